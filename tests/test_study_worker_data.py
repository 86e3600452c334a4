"""What a search worker trains on: the search's corpus, checked against its meta, and θ's features."""

from __future__ import annotations

import pytest
import torch

from sertune.corpora import load_corpus
from sertune.errors import ConfigError
from sertune.corpora.splits import Split
from sertune.study.store.claims import Claim
from sertune.study.search.worker_data import FeatureCache, load_search_corpus
from sertune.features.theta import Theta


@pytest.fixture
def meta(synth_savee):
    corpus = load_corpus(synth_savee)
    return {"corpus": {"name": corpus.name, "root": str(corpus.root), "options": dict(corpus.options)},
            "classes": list(corpus.classes)}


def split(ids):
    ids = list(ids)
    return Split(name="r0", train=tuple(ids[:-2]), val=(ids[-2],), test=(ids[-1],))


@pytest.mark.slow
def test_the_search_corpus_loads_when_classes_and_splits_match(meta, tmp_path):
    prepared = load_search_corpus(meta, [], cache_dir=tmp_path)
    assert len(prepared.ids) == 70
    assert load_search_corpus(meta, [split(prepared.ids)], cache_dir=tmp_path).ids == prepared.ids


@pytest.mark.parametrize("change, match", [
    (lambda m, ids: m.update(classes=m["classes"][::-1]), r"has classes \[.*\], but the search was created with"),
    (lambda m, ids: ids.append("nobody/x01.wav"),
     r"1 utterances of the search's splits are not in the corpus at .* \(e.g. 'nobody/x01.wav'\); every worker"),
])
def test_a_different_corpus_is_refused_before_training(meta, tmp_path, change, match):
    ids = list(load_search_corpus(meta, [], cache_dir=tmp_path).ids)
    change(meta, ids)
    with pytest.raises(ConfigError, match=match):
        load_search_corpus(meta, [split(ids)], cache_dir=tmp_path)


class Book:
    """Records the feature store a worker chose for θ, as ClaimBook.set_store does."""

    def __init__(self):
        self.stores = []

    def set_store(self, claim, store):
        self.stores.append((claim.key, store))
        claim.store = claim.store or store


@pytest.mark.slow
def test_features_are_computed_once_per_theta_and_the_store_recorded_once(meta, tmp_path):
    book = Book()
    cache = FeatureCache(load_search_corpus(meta, [], cache_dir=tmp_path), book, device=torch.device("cpu"),
                         remainder="drop")
    a, b = Theta(40, 400, 160, 1.0), Theta(24, 400, 160, 1.0)
    first = Claim("A", "t1")
    data = cache.get(first, a)
    assert cache.get(first, a) is data                       # the other repetitions reuse it
    assert book.stores == [("A", data.mode)] and first.store == data.mode
    other = cache.get(Claim("B", "t2"), b)
    assert other is not data and other.theta == b                 # the next θ replaces it
    again = cache.get(Claim("A", "t3", store=data.mode), a)           # a later holder: the store it chose
    assert again is not data and len(book.stores) == 2

"""Metrics against hand-computed values on a small confusion matrix."""

from __future__ import annotations

import numpy as np
import pytest

from sertune.training.metrics import classification_metrics, evaluate, mean_std, utterance_log_probs

# 3 classes. True class 0: 4 items (3 right, 1 -> class 1); class 1: 2 items (1 right, 1 -> 2);
# class 2: 4 items (4 right). Confusion matrix, rows true, columns predicted:
#   [[3, 1, 0], [0, 1, 1], [0, 0, 4]]
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
Y_PRED = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])


def test_hand_computed_values():
    m = classification_metrics(Y_TRUE, Y_PRED, n_classes=3)
    assert m["confusion"] == [[3, 1, 0], [0, 1, 1], [0, 0, 4]]
    assert m["wa"] == pytest.approx(80.0)                               # 8 of 10
    assert m["ua"] == pytest.approx(100 * (3 / 4 + 1 / 2 + 4 / 4) / 3)    # 75.0
    # per-class precision: 3/3, 1/2, 4/5; weights = support 4, 2, 4
    assert m["precision"] == pytest.approx(100 * (4 * 1 + 2 * 0.5 + 4 * 0.8) / 10)
    recalls = np.array([0.75, 0.5, 1.0])
    precisions = np.array([1.0, 0.5, 0.8])
    f1 = 2 * precisions * recalls / (precisions + recalls)
    assert m["recall"] == pytest.approx(80.0)                           # weighted recall = WA
    assert m["f1"] == pytest.approx(100 * np.dot([4, 2, 4], f1) / 10)


def test_absent_class_keeps_matrix_size_and_zero_division_is_zero():
    m = classification_metrics(np.array([0, 0]), np.array([0, 1]), n_classes=4)
    assert np.array(m["confusion"]).shape == (4, 4)
    assert m["ua"] == pytest.approx(50.0)


def test_utterance_level_is_mean_of_segment_log_probs():
    lp = np.log(np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]]))
    owner = np.array([0, 0, 1, 1])
    got = utterance_log_probs(lp, owner, 2)
    np.testing.assert_allclose(got[0], (lp[0] + lp[1]) / 2)
    # utterance 0: mean log p = (log .9 + log .2)/2 vs (log .1 + log .8)/2 -> class 0 wins
    assert got.argmax(1).tolist() == [0, 1]


def test_evaluate_both_levels_with_noncontiguous_utterance_index():
    lp = np.log(np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7]]))
    result = evaluate(lp, np.array([0, 0, 1]), np.array([7, 7, 42]), n_classes=2)
    assert result["segment"]["wa"] == pytest.approx(100 * 2 / 3)
    assert result["utterance"]["wa"] == pytest.approx(100.0)
    assert result["utterance"]["confusion"] == [[1, 0], [0, 1]]


def test_mean_std_is_population_std_as_the_reference():
    assert mean_std([1.0, 3.0]) == {"mean": 2.0, "std": 1.0}
    assert mean_std([5.0]) == {"mean": 5.0, "std": 0.0}

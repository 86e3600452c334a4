"""Classification metrics of the paper, on scikit-learn, at segment and utterance level.

WA (eq. 6) is accuracy; UA is the unweighted average of per-class recalls;
weighted precision (eq. 11), recall and F1 (eq. 12) weight each class by its
support. All are returned in percent. A model sees T-second segments; an
utterance's decision is the mean of its segments' log-probabilities.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    recall_score,
)

#: Names of the scalar metrics :func:`classification_metrics` returns, in report order.
METRICS = ("wa", "ua", "precision", "recall", "f1")


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, *, n_classes: int) -> dict:
    """WA, UA, weighted precision/recall/F1 (all in %) and the confusion matrix.

    Parameters
    ----------
    y_true, y_pred : array of int, shape (n,)
        Class indices in ``range(n_classes)``.
    n_classes : int
        Number of classes; the confusion matrix is (n_classes, n_classes) even
        when some class is absent, rows = true class, columns = prediction.

    Returns
    -------
    dict with keys ``wa ua precision recall f1`` (floats, %) and ``confusion`` (list of lists).
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    labels = np.arange(n_classes)
    present = np.unique(y_true)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="weighted", zero_division=0)
    return {
        "wa": 100.0 * accuracy_score(y_true, y_pred),
        # Recall averaged over the classes that occur in y_true (UA's definition).
        "ua": 100.0 * recall_score(y_true, y_pred, labels=present, average="macro",
                                   zero_division=0) if len(present) else 0.0,
        "precision": 100.0 * precision,
        "recall": 100.0 * recall,
        "f1": 100.0 * f1,
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def utterance_log_probs(segment_log_probs: np.ndarray, utterance_index: np.ndarray,
                        n_utterances: int) -> np.ndarray:
    """Mean of segment log-probabilities per utterance.

    Parameters
    ----------
    segment_log_probs : array, shape (n_segments, n_classes)
    utterance_index : array of int, shape (n_segments,)
        Which utterance (0 .. n_utterances-1) each segment belongs to.

    Returns
    -------
    array, shape (n_utterances, n_classes)
    """
    sums = np.zeros((n_utterances, segment_log_probs.shape[1]), dtype=np.float64)
    np.add.at(sums, utterance_index, segment_log_probs)
    counts = np.bincount(utterance_index, minlength=n_utterances)
    if (counts == 0).any():
        raise ValueError("every utterance needs at least one segment")
    return sums / counts[:, None]


def evaluate(segment_log_probs: np.ndarray, segment_labels: np.ndarray,
             utterance_index: np.ndarray, *, n_classes: int) -> dict:
    """Metrics at segment level and at utterance level (segments grouped by ``utterance_index``).

    ``utterance_index`` values need not be contiguous: they are renumbered here.
    Returns ``{"segment": {...}, "utterance": {...}}`` of :func:`classification_metrics` dicts.
    """
    segment_log_probs = np.asarray(segment_log_probs, dtype=np.float64)
    segment_labels = np.asarray(segment_labels)
    uniq, index = np.unique(np.asarray(utterance_index), return_inverse=True)
    utt_scores = utterance_log_probs(segment_log_probs, index, len(uniq))
    utt_labels = np.zeros(len(uniq), dtype=np.int64)
    utt_labels[index] = segment_labels
    return {
        "segment": classification_metrics(segment_labels, segment_log_probs.argmax(1), n_classes=n_classes),
        "utterance": classification_metrics(utt_labels, utt_scores.argmax(1), n_classes=n_classes),
    }


def mean_std(values) -> dict[str, float]:
    """``{"mean": m, "std": s}`` over repetitions.

    The std is numpy's default (population, ddof=0), as the authors' code
    computes the paper's "mean ± std", so numbers compare like with like.
    """
    arr = np.asarray(list(values), dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std())}

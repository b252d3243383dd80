#!/usr/bin/env python3
"""Writes tests/golden/metrics_golden.json: scikit-learn's WA, UA, macro- and weighted F1,
Cohen's kappa, per-class precision / recall / F1 / support and the confusion matrix (counts
and normalized) on seeded random predictions, for crates/eval/tests/sklearn_golden.rs.

Cases cover balanced and skewed labels, a classifier that is right most of the time, one
that predicts a single class, classes absent from the truth (left out of UA and macro-F1,
as balanced_accuracy_score does) and classes only ever predicted.
Run through tests/golden/make_golden.sh (pinned versions in requirements.txt)."""

import json
import os
import warnings

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, cohen_kappa_score, confusion_matrix, f1_score,
                             precision_recall_fscore_support, roc_auc_score, roc_curve)

warnings.filterwarnings("ignore")  # absent classes: sklearn warns, ser documents it


def case(name, truth, pred, n_classes):
    truth, pred = np.asarray(truth), np.asarray(pred)
    present = np.unique(truth)
    labels = np.arange(n_classes)
    p, r, f, support = precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
    absent = lambda v: [float(x) if c in present else None for c, x in enumerate(v)]  # noqa: E731
    return {
        "name": name,
        "n_classes": n_classes,
        "truth": truth.tolist(),
        "pred": pred.tolist(),
        "wa": accuracy_score(truth, pred),
        "ua": balanced_accuracy_score(truth, pred),
        "macro_f1": f1_score(truth, pred, labels=present, average="macro", zero_division=0),
        "weighted_f1": f1_score(truth, pred, labels=present, average="weighted", zero_division=0),
        "kappa": cohen_kappa_score(truth, pred),
        # null where the class has no items in the truth
        "recall": absent(r),
        "f1": absent(f),
        "precision": [float(x) for x in p],
        "support": [int(x) for x in support],
        "confusion": confusion_matrix(truth, pred, labels=labels).tolist(),
        "confusion_normalized": np.nan_to_num(confusion_matrix(truth, pred, labels=labels, normalize="true")).tolist(),
    }


def roc_case(name, truth, scores):
    """One-vs-rest ROC per class (drop_intermediate=False) and AUC; null where a class has no
    positive or no negative item; macro AUC = mean of the defined ones."""
    truth, scores = np.asarray(truth), np.asarray(scores)
    curves = []
    for c in range(scores.shape[1]):
        y = (truth == c).astype(int)
        if y.min() == y.max():
            curves.append({"fpr": None, "tpr": None, "auc": None})
            continue
        fpr, tpr, _ = roc_curve(y, scores[:, c], drop_intermediate=False)
        curves.append({"fpr": fpr.tolist(), "tpr": tpr.tolist(), "auc": roc_auc_score(y, scores[:, c])})
    defined = [c["auc"] for c in curves if c["auc"] is not None]
    out = {"name": name, "truth": truth.tolist(), "scores": scores.tolist(), "curves": curves,
           "macro_auc": float(np.mean(defined))}
    if len(defined) == scores.shape[1] and np.allclose(scores.sum(1), 1):  # sklearn's own multi-class macro OvR as a cross-check
        out["sklearn_ovr_macro"] = roc_auc_score(truth, scores, multi_class="ovr", average="macro")
    return out


def main():
    rng = np.random.default_rng(2026)
    cases = []
    t = rng.integers(0, 8, 400)
    cases.append(case("uniform_random_8", t, rng.integers(0, 8, 400), 8))
    t = rng.choice(6, 300, p=[0.4, 0.25, 0.15, 0.1, 0.06, 0.04])
    cases.append(case("skewed_random_6", t, rng.integers(0, 6, 300), 6))
    t = rng.integers(0, 8, 500)
    good = np.where(rng.random(500) < 0.7, t, rng.integers(0, 8, 500))
    cases.append(case("mostly_right_8", t, good, 8))
    t = rng.integers(0, 4, 50)
    cases.append(case("one_class_predicted", t, np.full(50, 2), 4))
    t = rng.choice([0, 1, 3], 120)  # class 2 and 4 never true
    p = rng.integers(0, 5, 120)     # but predicted
    cases.append(case("absent_true_classes", t, p, 5))
    roc = []
    t = rng.integers(0, 5, 200)
    logits = rng.normal(size=(200, 5)) + 1.5 * np.eye(5)[t]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    roc.append(roc_case("softmax_5", t, p.round(6)))
    t = rng.integers(0, 4, 80)
    votes = rng.integers(0, 4, (80, 4)) / 6.0  # coarse scores with many ties (SVM vote shares)
    roc.append(roc_case("tied_votes_4", t, votes))
    t = rng.choice([0, 2], 60)  # class 1 never true: its AUC is undefined
    roc.append(roc_case("absent_class_3", t, rng.random((60, 3)).round(3)))
    here = os.path.dirname(os.path.abspath(__file__))
    generator = json.dumps(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    with open(os.path.join(here, "metrics_golden.json"), "w") as f:  # one case per line
        f.write('{"generator": %s, "cases": [\n' % generator)
        f.write(",\n".join(json.dumps(c) for c in cases))
        f.write("\n], \"roc_cases\": [\n")
        f.write(",\n".join(json.dumps(c) for c in roc))
        f.write("\n]}\n")


if __name__ == "__main__":
    main()

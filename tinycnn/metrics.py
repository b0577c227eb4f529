"""Classification metrics from labels and predictions: accuracy, the confusion matrix, per-class precision,
recall and F1 with their macro averages."""
import numpy as np


def confusion_matrix(y_true, y_pred, num_classes):
    """cm[i, j] = how many images of true class i were predicted as class j."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def precision_recall_f1(cm):
    """Per class: precision = TP / predicted, recall = TP / actual, F1 = their harmonic mean (0 where undefined)."""
    tp = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def classification_report(cm, classes):
    """A dict of accuracy, per-class and macro-averaged precision, recall and F1, and the confusion matrix."""
    precision, recall, f1 = precision_recall_f1(cm)
    return {
        "accuracy": float(np.trace(cm) / max(cm.sum(), 1)),
        "per_class": {c: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for c, p, r, f, s in zip(classes, precision, recall, f1, cm.sum(axis=1))},
        "macro": {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())},
        "confusion_matrix": cm.tolist(),
    }


def format_report(report):
    """The per-class table as text."""
    lines = [f"{'class':<12} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"]
    for name, row in report["per_class"].items():
        lines.append(f"{name:<12} {row['precision']:>9.3f} {row['recall']:>9.3f} {row['f1']:>9.3f} "
                     f"{row['support']:>8}")
    m = report["macro"]
    lines.append(f"{'macro avg':<12} {m['precision']:>9.3f} {m['recall']:>9.3f} {m['f1']:>9.3f}")
    lines.append(f"accuracy {report['accuracy']:.4f}")
    return "\n".join(lines)

import numpy as np

from layerwise.metrics import classification_report, regression_report


def test_classification_report_macro_averages_and_confusion():
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 0]
    r = classification_report(y_true, y_pred)
    assert r["accuracy"] == 4 / 6
    # per class precision 1/2, 2/3, 1 -> macro 13/18; recall 1/2, 1, 1/2 -> 2/3
    assert np.isclose(r["precision"], 13 / 18) and np.isclose(r["recall"], 2 / 3)
    assert r["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert 0 < r["f1"] < 1


def test_regression_report():
    r = regression_report([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    assert r["mse"] == 1 / 3 and r["mae"] == 1 / 3 and r["r2"] == 0.5

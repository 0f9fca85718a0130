"""Class labels as the classifier reads them: one label per row, and the marker of an unlabeled row.

One rule for the marker (README, "the unlabeled marker"): ``-1`` by default, its text (``"-1"``, ``"-1.0"``) among
string labels, ``NaN`` never a class; used by the estimators, the cross-validation folds and the CLI alike.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import assert_all_finite, column_or_1d

from ..exceptions import DataError

__all__ = ["labels_1d", "is_unlabeled", "is_nan", "check_label_kinds"]


def labels_1d(y, n_rows: int) -> np.ndarray:
    """Class labels as a 1-D array of ``n_rows`` finite values, else :class:`DataError`."""
    try:
        y = column_or_1d(y, warn=True)
    except ValueError as e:
        shape = np.shape(y)
        raise DataError(f"y must be 1-D with one label per row; got shape {shape}. Pass y.ravel() for a column vector, "
                        "or one column of a 2-D label array.") from e
    if len(y) != n_rows:
        raise DataError(f"y has {len(y)} rows but X has {n_rows}; expected one label per row of X (-1 for unlabeled rows).")
    if y.dtype == object:  # a column of Python objects: its labels' own type (ints read as objects are not "continuous")
        missing = np.flatnonzero([v is None for v in y])
        if len(missing):
            raise DataError(f"y holds None at row(s) {missing[:5].tolist()}{' ...' if len(missing) > 5 else ''}; a class label "
                            "must be a value. Mark the rows without a label with -1 (PretrainedClassifier's marker), e.g. "
                            "np.where(y == None, -1, y), or drop them.")
        kinds = {type(v) for v in y}
        if kinds and all(issubclass(k, (bool, np.bool_)) for k in kinds):
            y = y.astype(bool)
        elif kinds and all(issubclass(k, (int, np.integer)) and not issubclass(k, (bool, np.bool_)) for k in kinds):
            y = y.astype(np.int64)
    if y.dtype.kind == "f":
        try:
            assert_all_finite(y, input_name="y")
        except ValueError as e:
            raise DataError(f"{e} Class labels must be finite; PretrainedClassifier marks unlabeled rows with -1, not NaN "
                            "(NaN is the regressor's marker): replace them, e.g. np.where(np.isfinite(y), y, -1).") from e
    return y


def is_unlabeled(y: np.ndarray, marker) -> np.ndarray:
    """Rows whose label equals ``marker`` (``None``: no row is unlabeled).

    Among string labels a numeric marker also matches its text (``"-1"`` or ``"-1.0"`` for ``-1``): labels read from a CSV
    file with class names keep ``-1`` as the text ``"-1"``, and a class named ``"-1"`` next to ``"cat"`` and
    ``"dog"`` is almost always a hidden label. ``unlabeled=None`` keeps it as a class.
    """
    if marker is None:
        return np.zeros(len(y), dtype=bool)
    if is_nan(marker):
        raise DataError("unlabeled=nan can never mark a row: NaN compares unequal to every value, itself included. The "
                        "classifier marks unlabeled rows with -1 (unlabeled='auto'); for NaN in float labels, replace it "
                        "first, e.g. np.where(np.isnan(y), -1, y).")
    if y.dtype.kind in "biuf":
        if isinstance(marker, str):
            try:
                marker = float(marker)  # "-1" from a config or a command line: the number it spells
            except ValueError:
                raise DataError(f"unlabeled={marker!r} is text, but the labels are numbers, so it can never mark a row; "
                                "pass the number that marks unlabeled rows (e.g. -1), or None.") from None
        return y == marker if isinstance(marker, (int, float, np.number)) and not isinstance(marker, bool) else np.zeros(len(y), dtype=bool)
    number = float(marker) if isinstance(marker, (int, float, np.number)) and not isinstance(marker, bool) else None
    return np.asarray([v == marker or (number is not None and isinstance(v, str) and spells(v, number)) for v in y], dtype=bool)


def is_nan(value) -> bool:
    """Whether ``value`` is a float NaN (the regressor's marker; never a class)."""
    return isinstance(value, (float, np.floating)) and bool(np.isnan(value))


def spells(text: str, number: float) -> bool:
    """Whether ``text`` is the number ``number`` written out (``"-1"``, ``"-1.0"``, ``" -1 "`` for -1)."""
    try:
        return float(text.strip()) == number
    except ValueError:
        return False


def check_label_kinds(classes, y: np.ndarray, what: str) -> None:
    """:class:`DataError` when the labels ``y`` are numbers and the model's ``classes`` strings, or the other way
    round: no prediction could ever match (``what`` names the labels, e.g. ``"y"``)."""
    numeric = (np.asarray(classes).dtype.kind in "biuf", np.asarray(y).dtype.kind in "biuf")
    if numeric[0] != numeric[1]:
        kinds = ["numbers" if n else "strings" for n in numeric]
        raise DataError(f"The labels of {what} are {kinds[1]}, but the model's classes are {kinds[0]} "
                        f"({np.asarray(classes).tolist()[:5]}...): no prediction could ever match. Pass labels of the type "
                        "the model was fitted on.")

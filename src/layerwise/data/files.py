"""Datasets from .npy, .npz and .csv files, with min-max scaling that is stated, not silent."""

from __future__ import annotations

import csv
import numbers
import os
import zipfile
from pathlib import Path

import numpy as np
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils import Bunch

from ..exceptions import ConfigError, DataError
from ..registry import suggest
from .arrays import check_X, check_y_length, in_unit_interval

__all__ = ["FILE_SUFFIXES", "SCALES", "load_file", "read_features", "read_labels"]

FILE_SUFFIXES = (".npy", ".npz", ".csv")
SCALES = ("auto", "minmax", None)
_NPZ_KEYS = ("X", "y", "X_test", "y_test")
# an estimator given an .npz path: the rows and the labels under their usual names (scikit-learn's X and y, others' words)
_X_NAMES = ("X", "x", "data")
_Y_NAMES = ("y", "labels", "target")


def load_file(path: str | os.PathLike, label_column: str | int | None = None, scale: str | None = "auto") -> Bunch:
    """Load a dataset from a ``.npy``, ``.npz`` or ``.csv`` file.

    Parameters
    ----------
    path : path
        - ``.npy``: one array, (n, n_features) or images (n, h, w[, ...]);
          with ``label_column`` (an int index), a 2-D array whose column
          ``label_column`` holds the labels.
        - ``.npz``: arrays named ``X`` and optionally ``y``, ``X_test``,
          ``y_test`` (as written by ``np.savez(path, X=X, y=y)``).
        - ``.csv``: a header line with column names, then numeric rows; the
          labels are the column named (or indexed) by ``label_column``.
    label_column : str or int, optional
        The label column of a ``.csv`` (name or index) or 2-D ``.npy`` (index).
        ``None``: no labels, ``y`` is ``None``.
    scale : {"auto", "minmax"} or None, default="auto"
        ``"minmax"``: rescale each feature to [0, 1] with the min/max of the
        training rows ``X`` (scikit-learn's ``MinMaxScaler``); ``X_test`` uses
        the same min/max and is clipped to [0, 1]. ``"auto"``: the same, but
        only if some value of ``X`` or ``X_test`` is outside [0, 1] (which the
        Bernoulli loss needs). ``None``: values as stored.

    Returns
    -------
    Bunch
        ``X`` (n, n_features) float32, ``y`` (n,) (int64 for integral labels,
        float for other numbers, str for CSV class names; ``None`` without
        labels), ``X_test`` (m, n_features) float32 / ``y_test`` (m,) or
        ``None``, ``image_shape`` (``X``'s trailing shape for 3-D or higher
        ``.npy``/``.npz`` arrays, else ``None``), ``scaling`` (what was done),
        ``name`` (the file name), ``feature_names`` (CSV header, else ``None``).

    Raises
    ------
    ConfigError
        Unknown ``scale``, or a ``label_column`` that does not fit the file type.
    DataError
        Missing or unreadable file, missing ``X`` key (the keys found are
        listed), unknown label column, non-numeric feature columns (named),
        NaN or infinite values.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     np.save(f"{tmp}/x.npy", np.array([[0.0, 10.0], [5.0, 20.0], [10.0, 30.0]]))
    ...     d = load_file(f"{tmp}/x.npy")
    >>> d.X.tolist(), d.scaling
    ([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]], 'min-max per feature to [0, 1] from the training rows X (scale="auto": values were in [0, 30])')
    """
    path = Path(path)
    if scale not in SCALES:
        raise ConfigError(f"scale must be one of {list(SCALES)}; got {scale!r}. Use None to keep the values as stored.")
    readers = {".npy": _read_npy, ".npz": _read_npz, ".csv": _read_csv}
    suffix = path.suffix.lower()
    if suffix not in readers:
        raise DataError(
            f"{path} has suffix {suffix!r}; expected one of {list(FILE_SUFFIXES)}. "
            "Save the data with np.save, np.savez or as a CSV with a header."
        )
    if not path.is_file():
        raise DataError(f"No such file: {path} (absolute: {path.absolute()}). Check the path, or pass a dataset name.")
    parts = readers[suffix](path, label_column)
    X, image_shape = _features(parts["X"], "X")
    X_test = _features(parts["X_test"], "X_test")[0] if parts.get("X_test") is not None else None
    if X_test is not None and X_test.shape[1:] != X.shape[1:]:
        raise DataError(f"{path}: X_test has {X_test.shape[1]} features but X has {X.shape[1]}; expected the same columns.")
    y, y_test = (_labels(parts.get(k), k, ref) for k, ref in (("y", X), ("y_test", X_test)))
    X, X_test, scaling = _scale(X, X_test, scale)
    return Bunch(name=path.name, X=X, y=y, X_test=X_test, y_test=y_test, image_shape=image_shape,
                 scaling=scaling, feature_names=parts.get("feature_names"))


def read_features(path: str | os.PathLike, label: str | None = None) -> Bunch:
    """The rows (and labels) of an ``.npz`` or ``.csv`` file given to an estimator as ``X``, values as stored.

    Parameters
    ----------
    path : path
        - ``.npz``: an archive with one array (the rows), or with the rows
          under ``X`` (or ``x``, ``data``) and optionally the labels under
          ``y`` (or ``labels``, ``target``); other arrays are not read.
        - ``.csv``: comma-separated numbers; the first line is a header of
          column names when it is not numbers where the next line is (or not
          numbers at all). Every column but ``label`` is a feature, and must
          hold numbers (an empty cell is NaN).
    label : str, optional
        ``.csv`` only: the name of the column that holds the labels.

    Returns
    -------
    Bunch
        ``X`` (n, ...) numeric array (images keep their shape), ``y`` (n,) or
        ``None`` (``.csv``: numbers, int64 when all are integral, else the
        text of each cell), ``feature_names`` (a CSV's header, else ``None``).

    Raises
    ------
    DataError
        An archive with several arrays and none named as above (the names
        found are listed), text feature columns (named: load such a table
        with pandas and pass the DataFrame), an unknown label column, or a
        label named in a CSV without a header.
    """
    path = Path(path)
    if path.suffix.lower() == ".npz":
        if label is not None:
            raise DataError(f"y={label!r} names a column, but {path} is an .npz archive, whose arrays have no columns; pass "
                            "y=None to read its array 'y' (or 'labels', 'target'), or the labels themselves.")
        with _load(path, archive=True) as z:
            found = list(z.files)
            x_key = _pick(found, _X_NAMES, path, "the rows", alone=True)
            y_key = _pick(found, _Y_NAMES, path, "the labels") if len(found) > 1 else None
            X, y = _npz_array(z, x_key, path), (_npz_array(z, y_key, path) if y_key else None)
        if X.dtype.kind not in "biuf":
            raise DataError(f"{path}: the array {x_key!r} holds {X.dtype} values; expected numbers (the rows). Encode them first.")
        return Bunch(X=X, y=None if y is None else _labels(y, f"{path.name}[{y_key!r}]", X), feature_names=None)
    return _csv_features(path, label)


def read_labels(path: str | os.PathLike, n_rows: int | None = None) -> np.ndarray:
    """The labels in a ``.npy``, ``.npz`` or one-column ``.csv`` file: an estimator's ``y`` given as a path.

    Parameters
    ----------
    path : path
        ``.npy``: a 1-D array (or one column); ``.npz``: one array, or the
        one named ``y`` (or ``labels``, ``target``); ``.csv``: one column,
        with or without a header line.
    n_rows : int, optional
        The rows of ``X``: a CSV of text labels with one line more starts
        with a header.

    Returns
    -------
    ndarray of shape (n_rows,)
        int64 when every label is an integral number.

    Raises
    ------
    DataError
        A missing file, another suffix, an array that is not 1-D, an archive
        without such an array (its names are listed), a CSV of several columns.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FILE_SUFFIXES or not path.is_file():
        what = "does not exist" if not path.exists() else f"is a {suffix or 'suffix-less'} {'folder' if path.is_dir() else 'file'}"
        raise DataError(f"y is the path {str(path)!r}, which {what}; expected a .npy, .npz or one-column .csv file of labels "
                        "(np.save(path, y)), or the labels themselves.")
    if suffix == ".npy":
        y = _load(path, archive=False)
    elif suffix == ".npz":
        with _load(path, archive=True) as z:
            key = _pick(list(z.files), _Y_NAMES, path, "the labels", alone=True)
            y = _npz_array(z, key, path)
    else:
        y = _csv_label_file(path, n_rows)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"y is the file {path}, which holds an array of shape {y.shape}; expected one label per row (1-D).")
    if y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
        y = y.astype(np.int64)
    return y


def _pick(found: list[str], names: tuple[str, ...], path: Path, what: str, alone: bool = False) -> str | None:
    """The array of an archive named one of ``names`` (with ``alone``: or its only array); ``None`` if none is."""
    if alone and len(found) == 1:
        return found[0]
    present = [n for n in names if n in found]
    if len(present) > 1:
        raise DataError(f"{path} has arrays {present}, which could each be {what}; expected one of them. Found {found}: "
                        f"save it with np.savez(path, X=X, y=y).")
    if present:
        return present[0]
    if not alone:
        return None
    names_text = ", ".join(repr(n) for n in names)
    raise DataError(f"{path} holds the arrays {found}, none named {names_text}; expected one array, or {what} under one of "
                    f"these names. Save it with np.savez(path, X=X, y=y), or load it with np.load and pass the arrays.")


def _npz_array(z, key: str, path: Path) -> np.ndarray:
    try:  # an archive's arrays are read lazily: object arrays fail here, not in np.load
        return z[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"Could not read the array {key!r} of {path} with numpy ({e}); expected a file written by np.savez "
                        "with numeric arrays.") from e


def _csv_features(path: Path, label: str | None) -> Bunch:
    """A CSV given as ``X``: its numeric columns (all but ``label``), with or without a header line. An unnamed first
    column under a header is the row index that ``DataFrame.to_csv`` writes by default, and is left out."""
    rows = _csv_rows(path)
    if not rows:
        raise DataError(f"{path} is empty; expected comma-separated rows of numbers, optionally under a header line.")
    header = _has_header(rows)
    names = [h.strip() for h in rows[0]] if header else [f"column {j}" for j in range(len(rows[0]))]
    body = rows[1:] if header else rows
    if not body:
        raise DataError(f"{path} has a header line and no data row; expected at least one row of numbers.")
    _check_widths(path, body, len(names), first_line=2 if header else 1, what="the header has" if header else "line 1 has")
    columns = np.array(body, dtype=str).T  # (n_columns, n_rows)
    if header and names[0] == "" and len(names) > 1:
        # the row index pandas writes with DataFrame.to_csv(path) (index=True, its default) has no name: row
        # numbers, never a feature (taken as one, it made digits look like a table and cost 30 points)
        names, columns = names[1:], columns[1:]
    index = None
    if label is not None:
        if not header:
            raise DataError(f"y={label!r} names a column, but {path} has no header line (its first line is numbers: "
                            f"{rows[0][:5]}); add a line of column names, or pass the labels themselves.")
        if label not in names:
            raise DataError(f"y={label!r} names no column of {path}; its columns are {names}.{suggest(label, names)}")
        index = names.index(label)
    fix = ("The estimators read numbers only from a .csv path: read a table with text columns with pandas (X = "
           "pandas.read_csv(path)) and pass the DataFrame, whose text columns scale='table' encodes.")
    if label is None:
        fix += " If one of them holds the labels, name it: fit(path, y='<its name>') (score too; predict reads every column)."
    features = [j for j in range(len(names)) if j != index]
    X = _numeric_columns(columns, names, features, path, fix, first_line=2 if header else 1)
    y = _labels(_csv_labels(columns[index]), "y", X) if index is not None else None
    return Bunch(X=X, y=y, feature_names=[names[j] for j in features] if header else None)


def _has_header(rows: list[list[str]]) -> bool:
    """A first line of names: not numbers where the second line is, no number at all, or 0, 1, ..., n - 1 (n > 2:
    the names pandas gives unnamed columns, which ``DataFrame(X).to_csv(path, index=False)`` writes)."""
    first = [v.strip() for v in rows[0]]
    if all(not _is_number(v) for v in first) or (len(first) > 2 and first == [str(j) for j in range(len(first))]):
        return True
    second = rows[1] if len(rows) > 1 else []
    return any(not _is_number(a) and _is_number(b.strip()) for a, b in zip(first, second))


def _csv_label_file(path: Path, n_rows: int | None) -> np.ndarray:
    """One column of labels; the first line is a header when it is text above numbers, or one line too many."""
    rows = _csv_rows(path)
    if any(len(r) != 1 for r in rows):
        raise DataError(f"y is the file {path}, whose lines hold {max(len(r) for r in rows)} fields; expected one column of "
                        "labels. With X a .csv, name its label column instead: fit(X_path, y='<column name>').")
    values = np.array([r[0] for r in rows], dtype=str)
    numbers = [_is_number(v) for v in values]
    header = len(values) > 1 and not numbers[0] and all(numbers[1:])
    if not header and n_rows is not None and not any(numbers) and len(values) == n_rows + 1:
        header = True  # class names: the line that X has no row for is the column's name
    return _csv_labels(values[1:] if header else values)


def _load(path: Path, archive: bool):
    """``np.load`` without pickles: an array (``.npy``) or an archive (``.npz``), else :class:`DataError`."""
    writer = "np.savez" if archive else "np.save"
    try:
        out = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"Could not read {path} with numpy ({e}); expected a file written by {writer} with numeric arrays.") from e
    if isinstance(out, np.lib.npyio.NpzFile) != archive:
        if not archive:
            out.close()
        kind = "an .npz archive" if archive else "a single .npy array"
        raise DataError(f"{path} does not hold {kind}; got a {type(out).__name__}. Write it with {writer}, or fix the file's suffix.")
    return out


def _read_npy(path: Path, label_column) -> dict:
    """X, or X and y split from a 2-D array's ``label_column``."""
    arr = _load(path, archive=False)
    if label_column is None:
        return {"X": arr}
    if isinstance(label_column, bool) or not isinstance(label_column, numbers.Integral):
        raise ConfigError(
            "label_column for a .npy file must be a column index (int); "
            f"got {label_column!r}. A .npy file has no column names."
        )
    if arr.ndim != 2:
        raise DataError(
            f"{path} holds a {arr.ndim}-D array of shape {arr.shape}; "
            "label_column needs a 2-D (n_samples, n_columns) array."
        )
    c = _column_index(int(label_column), arr.shape[1], path)
    return {"X": np.delete(arr, c, axis=1), "y": arr[:, c]}


def _read_npz(path: Path, label_column) -> dict:
    """Arrays ``X``, ``y``, ``X_test``, ``y_test`` of an ``.npz`` archive."""
    if label_column is not None:
        raise ConfigError(
            f"label_column applies to .csv and .npy files; got label_column={label_column!r} for {path}. "
            "An .npz file keeps its labels in the array 'y'."
        )
    with _load(path, archive=True) as z:
        found = list(z.files)
        try:  # an archive's arrays are read lazily: object arrays fail here, not in np.load
            parts = {k: z[k] for k in _NPZ_KEYS if k in found}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise DataError(f"Could not read {path} with numpy ({e}); expected a file written by np.savez with numeric arrays.") from e
    missing = [k for k in ("X",) + (("X_test",) if "y_test" in parts else ()) if k not in parts]
    if missing:
        raise DataError(
            f"{path} has no array named {missing}; found keys {found}. Expected 'X' (features) and optionally "
            "'y', 'X_test', 'y_test'. Save it with np.savez(path, X=X, y=y, X_test=X_test, y_test=y_test)."
        )
    return parts


def _column_index(c: int, n_cols: int, path: Path) -> int:
    """``c`` as a non-negative column index, or :class:`ConfigError` if out of range."""
    if not -n_cols <= c < n_cols:
        raise ConfigError(
            f"label_column={c} is out of range for {path}, which has {n_cols} columns; "
            f"expected {-n_cols} to {n_cols - 1}."
        )
    return c % n_cols


def _read_csv(path: Path, label_column) -> dict:
    """Features (all columns but the label) and labels of a CSV file with a header."""
    rows = _csv_rows(path)
    if len(rows) < 2:
        raise DataError(
            f"{path} has {len(rows)} non-empty line(s); "
            "expected a header line with column names and at least one data row."
        )
    header, body = [h.strip() for h in rows[0]], rows[1:]
    if all(_is_number(h) for h in header):
        raise DataError(
            f"The first line of {path} looks like data, not a header: {rows[0][:5]}; "
            "expected column names. Add a header line, or save the array with np.save."
        )
    _check_widths(path, body, len(header), first_line=2, what="the header has")
    columns = np.array(body, dtype=str).T  # (n_columns, n_rows)
    label = _csv_label_index(label_column, header, path)
    features = [j for j in range(len(header)) if j != label]
    fix = "Encode them as numbers first (e.g. sklearn's OrdinalEncoder) or drop them."
    if label_column is None:
        fix += " If one of them holds the labels, pass label_column=<its name>."
    X = _numeric_columns(columns, header, features, path, fix)
    y = _csv_labels(columns[label]) if label is not None else None
    return {"X": X, "y": y, "feature_names": [header[j] for j in features]}


def _csv_rows(path: Path) -> list[list[str]]:
    """The non-empty lines of a comma-separated UTF-8 file, split into fields; another separator is refused."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r]
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path} is not UTF-8 text ({e}); expected a CSV file with a header line. "
            "Re-save it as UTF-8 CSV, or save binary data with np.save."
        ) from e
    except csv.Error as e:
        raise DataError(f"{path} is not a readable CSV file ({e}); expected comma-separated values with a header line.") from e
    first = rows[0] if rows else []
    separator = next((c for c in (";", "\t", "|") if len(first) == 1 and c in first[0]), None)
    if separator is not None:  # one column holding every name: another separator than the comma
        raise DataError(f"{path} looks {'tab' if separator == chr(9) else repr(separator)}-separated (its header is one "
                        f"column, {first[0][:60]!r}); layerwise reads comma-separated values. Re-save it with commas, e.g. "
                        f"pandas.read_csv(path, sep={separator!r}).to_csv(new_path, index=False).")
    return rows


def _check_widths(path: Path, body: list[list[str]], width: int, first_line: int, what: str) -> None:
    """Every line holds ``width`` fields (``first_line``: the file's line number of ``body[0]``)."""
    bad = next((i for i, r in enumerate(body) if len(r) != width), None)
    if bad is not None:
        raise DataError(
            f"{path}: line {bad + first_line} has {len(body[bad])} fields but {what} {width}; "
            "expected one value per column on every line."
        )


def _csv_label_index(label_column, header: list[str], path: Path) -> int | None:
    """Index of the label column given by name or position."""
    if label_column is None:
        return None
    if isinstance(label_column, numbers.Integral) and not isinstance(label_column, bool):
        return _column_index(int(label_column), len(header), path)
    if label_column not in header:
        raise DataError(f"{path} has no column {label_column!r}; its columns are {header}.{suggest(str(label_column), header)}")
    return header.index(label_column)


def _numeric_columns(columns: np.ndarray, header: list[str], features: list[int], path: Path, fix: str,
                     first_line: int = 2) -> np.ndarray:
    """Parse the feature columns as float64 (empty cells: NaN); name every non-numeric one, then say ``fix``."""
    out, bad = [], []
    for j in features:
        values = np.char.strip(columns[j])
        values = np.where(values == "", "nan", values)
        try:
            out.append(values.astype(np.float64))
        except ValueError:
            row = next(i for i, v in enumerate(values) if not _is_number(v))
            bad.append(f"{header[j]!r} (column {j}, line {row + first_line}: {str(values[row])!r})")
    if bad:
        raise DataError(f"{path}: feature column(s) {', '.join(bad)} are not numeric; expected numbers in every feature column. {fix}")
    return np.stack(out, axis=1) if out else np.empty((columns.shape[1], 0))


def _csv_labels(values: np.ndarray) -> np.ndarray:
    """Labels as numbers where they all are (empty cells: NaN), else the stripped strings (class names).

    An empty cell does not turn numeric labels into strings: it is ``NaN``,
    which the regressor reads as an unlabeled row.
    """
    values = np.char.strip(values)
    try:
        return np.where(values == "", "nan", values).astype(np.float64)
    except ValueError:
        return values


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _features(arr: np.ndarray, name: str) -> tuple[np.ndarray, tuple[int, ...] | None]:
    """(n, n_features) float32 and the image shape of 3-D or higher arrays."""
    arr = np.asarray(arr)
    image_shape = tuple(arr.shape[1:]) if arr.ndim >= 3 else None
    if arr.ndim >= 3:  # explicit width: reshape(n, -1) fails for zero rows
        arr = arr.reshape(len(arr), int(np.prod(arr.shape[1:])))
    return check_X(arr, name=name), image_shape


def _labels(y, name: str, X: np.ndarray | None) -> np.ndarray | None:
    """1-D labels, int64 when every value is integral; one per row of ``X``."""
    if y is None:
        return None
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{name} must be 1-D (one label per row); got shape {y.shape}.")
    if X is None:
        raise DataError(f"{name} was given without the matching features; expected {name.replace('y', 'X')} as well.")
    check_y_length(X, y, name=name)
    if y.dtype.kind == "f" and np.isfinite(y).all() and (y == np.round(y)).all():
        y = y.astype(np.int64)
    return y


def _scale(X: np.ndarray, X_test: np.ndarray | None, scale: str | None):
    """Apply ``scale`` and say what was done."""
    parts = [X] if X_test is None else [X, X_test]
    lo, hi = min(float(p.min()) for p in parts), max(float(p.max()) for p in parts)
    if scale is None:
        return X, X_test, f"none (scale=None): values as stored, in [{lo:g}, {hi:g}]"
    if scale == "auto" and all(in_unit_interval(p) for p in parts):
        return X, X_test, "none: values already in [0, 1]"
    scaler = MinMaxScaler(clip=True).fit(X)
    X = scaler.transform(X).astype(np.float32)
    how = "min-max per feature to [0, 1] from the training rows X"
    if X_test is not None:
        X_test = scaler.transform(X_test).astype(np.float32)
        how += "; X_test with the same min/max, clipped to [0, 1]"
    if scale == "auto":
        how += f' (scale="auto": values were in [{lo:g}, {hi:g}])'
    return X, X_test, how

"""Tables as tables: which rows are a table, and a per-column preprocessing suited to a neural network.

Image-like rows (pixels) share one range, and min-max scaling (or nothing,
when they are already in [0, 1]) is what the networks here expect. The columns
of a table do not: a price, an age, a count with a long tail, a city name,
a yes/no flag. :class:`TablePreprocessor` encodes each column on its own:

- a numeric column is standardised (``(x - mean) / std``), or, when its
  distribution is heavy-tailed, quantile-normalised to a standard normal
  (scikit-learn's ``QuantileTransformer(output_distribution="normal")``);
  a constant column becomes 0; a missing number (NaN) is the training median;
- a categorical column (object, string, category or bool dtype) is one-hot
  encoded with the categories seen in ``fit``; a missing value (NaN, None,
  ``pd.NA``) is a category of its own; a category never seen in ``fit`` is
  all zeros.

The fitted state is plain numbers, strings and lists (:meth:`TablePreprocessor.to_dict`),
saved in a model's ``config.json``, never pickled.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..exceptions import CheckpointError, DataError

__all__ = ["looks_like_table", "is_typed_table", "TablePreprocessor", "HEAVY_SKEW", "HEAVY_Z"]

#: A numeric column is heavy-tailed when ``|skewness| > HEAVY_SKEW`` or some ``|z| > HEAVY_Z`` (and it has at
#: least 3 distinct values): quantile-normalised instead of standardised.
HEAVY_SKEW = 2.0
HEAVY_Z = 10.0
_FORMAT = "layerwise.table"
_VERSION = 1
_BOUNDS_THRESHOLD = 1e-7  # scikit-learn's QuantileTransformer: values within this of the extreme quantiles clip
_KINDS = ("standard", "quantile", "constant", "onehot")


# -- which rows are a table ------------------------------------------------------------------------------------
def is_typed_table(X) -> bool:
    """Rows whose types say "table": a DataFrame with a non-numeric column (object, string, category or bool
    dtype), or a NumPy array of strings (``<U``, ``S``, or objects of which one is a ``str``)."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(X, "columns"):
        return any(_is_categorical_dtype(d) for d in dtypes)
    if isinstance(X, np.ndarray):
        if X.dtype.kind in "US":
            return True
        if X.dtype.kind == "O":
            return any(isinstance(v, str) for v in X.flat)
    return False


def looks_like_table(X) -> bool:
    """Whether rows ``X`` are a table rather than image-like pixels, from their types and values alone.

    The rule (never a data set's name):

    1. A DataFrame with any non-numeric column (object, string, category or
       bool dtype), or an array of strings, is a table.
    2. Numeric 2-D rows are *image-like* when all three hold:

       - every value is >= 0;
       - ``n_features = c * s * s`` with ``c`` in {1, 3} channels and a side
         ``s >= 8`` (64, 784, 1024, 3072...);
       - at least half of the non-constant columns reach a maximum of at
         least a quarter of the global maximum (pixels share one range; a
         table's columns have ranges of their own).

       Otherwise they are a table. A NumPy array of booleans counts as
       numeric (0/1: binarised pixels are still pixels).

    Anything that is not 2-D (a 1-D vector, images of shape ``(n, h, w)``) is
    not a table. A table of min-max scaled columns whose width happens to be
    ``c * s * s`` is taken for pixels; pass ``scale="table"`` to be explicit.
    """
    if is_typed_table(X):
        return True
    values = X.to_numpy(dtype=np.float64, na_value=np.nan) if hasattr(X, "columns") else X
    try:
        values = np.asarray(values)
        if values.dtype.kind not in "fiub":
            values = values.astype(np.float64)
    except (TypeError, ValueError):
        return False
    if values.ndim != 2 or values.shape[0] == 0 or values.shape[1] == 0:
        return False
    return not _image_like(values)


def _image_like(X: np.ndarray) -> bool:
    n_features = X.shape[1]
    if not any(n_features % c == 0 and _side(n_features // c) >= 8 for c in (1, 3)):
        return False
    if X.dtype.kind == "b":
        X = X.view(np.uint8)
    if X.dtype.kind == "f" and np.isnan(X).any():
        col_min, col_max = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
    else:
        col_min, col_max = X.min(axis=0), X.max(axis=0)
    seen = ~np.isnan(col_min.astype(np.float64))
    if not seen.any() or float(col_min[seen].min()) < 0:
        return False
    varying = seen & (col_max > col_min)
    if not varying.any():
        return False
    top = float(col_max[seen].max())
    return int((col_max[varying] >= top / 4).sum()) * 2 >= int(varying.sum())


def _side(n: int) -> int:
    """``s`` when ``n == s * s``, else 0."""
    s = math.isqrt(n)
    return s if s * s == n else 0


def _is_categorical_dtype(dtype) -> bool:
    """Object, string, category and bool dtypes: a column of categories, not of quantities."""
    if isinstance(dtype, np.dtype):  # NumPy's own (pandas is not needed for arrays)
        return dtype.kind not in "iuf"
    import pandas as pd

    return bool(pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype))


# -- the preprocessing ---------------------------------------------------------------------------------------
class TablePreprocessor(TransformerMixin, BaseEstimator):
    """Per-column encoding of a table into float32 inputs for a neural network.

    ``fit`` decides, column by column:

    - numeric: ``(x - mean) / std`` (population std of the training values);
    - numeric and heavy-tailed (``|skewness| > skew_threshold`` or a ``|z| > z_threshold``, and at least 3
      distinct values): quantile-normalised to N(0, 1), as scikit-learn's
      ``QuantileTransformer(output_distribution="normal")`` with ``min(n_quantiles, n)`` quantiles (kept);
    - numeric and constant (or never observed): 0;
    - object, string, category or bool dtype: one-hot, one column per category seen in ``fit`` (sorted), plus
      one for "missing" when ``fit`` saw a missing value.

    Missing values: a missing number (NaN, ``pd.NA``) is replaced by the
    training median before its encoding; a missing category (NaN, None,
    ``pd.NA``) is a category of its own. At ``transform``, a category that
    ``fit`` never saw (or a missing one when ``fit`` saw none) is all zeros;
    an infinite number is refused.

    Columns are matched by name when both ``fit`` and ``transform`` get a
    DataFrame (the order may differ), else by position.

    Parameters
    ----------
    skew_threshold : float, default=2.0
    z_threshold : float, default=10.0
        Heavy-tail rule: quantile-normalise a numeric column with at least 3
        distinct values when the absolute skewness of its training values
        exceeds ``skew_threshold`` or some value lies more than
        ``z_threshold`` standard deviations from the mean.
    n_quantiles : int, default=1000
    subsample : int, default=10000
    random_state : int, default=0
        As scikit-learn's ``QuantileTransformer`` (the subsample's seed).

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        The columns' names (``x0``, ``x1``... for an array).
    columns_ : list of dict
        One fitted spec per input column (``name``, ``kind`` and its numbers), plain JSON values.
    n_features_out_ : int
        Width of the encoded rows.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [20, 30, 40, None], "city": ["Oslo", "Rome", None, "Oslo"]})
    >>> pre = TablePreprocessor().fit(df)
    >>> list(pre.get_feature_names_out())
    ['age', 'city_Oslo', 'city_Rome', 'city_nan']
    >>> pre.transform(pd.DataFrame({"age": [30], "city": ["Paris"]})).tolist()
    [[0.0, 0.0, 0.0, 0.0]]
    """

    def __init__(self, skew_threshold: float = HEAVY_SKEW, z_threshold: float = HEAVY_Z, n_quantiles: int = 1000,
                 subsample: int = 10_000, random_state: int = 0) -> None:
        self.skew_threshold = skew_threshold
        self.z_threshold = z_threshold
        self.n_quantiles = n_quantiles
        self.subsample = subsample
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------------------------------
    def fit(self, X, y=None, feature_names=None) -> TablePreprocessor:
        """Decide and fit each column's encoding on the rows ``X`` (DataFrame or 2-D array); ``y`` is ignored.

        ``feature_names``: names of the columns of an array (a DataFrame's own names are used otherwise).
        """
        columns, names = _as_columns(X, feature_names)
        if not columns or len(columns[0]) == 0:
            raise DataError(f"TablePreprocessor needs at least one row and one column; got shape {np.shape(X)}.")
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self._by_name = hasattr(X, "columns")
        self.columns_ = [self._fit_column(name, column) for name, column in zip(names, columns)]
        self.n_features_out_ = sum(_width(c) for c in self.columns_)
        return self

    def _fit_column(self, name: str, column) -> dict[str, Any]:
        if _is_categorical_dtype(column.dtype):
            return _fit_categories(name, column)
        x = _numbers(column, name)
        seen = x[~np.isnan(x)]
        if seen.size == 0:
            return {"name": name, "kind": "constant", "fill": 0.0}
        fill = float(np.median(seen))
        low, high = float(seen.min()), float(seen.max())
        if low == high:
            return {"name": name, "kind": "constant", "fill": fill}
        mean, std = float(seen.mean()), float(seen.std())
        if std == 0.0 or not np.isfinite(std):  # values too close for float64 to tell apart
            return {"name": name, "kind": "constant", "fill": fill}
        z = (seen - mean) / std
        skew, max_z = float(np.mean(z ** 3)), float(np.abs(z).max())
        heavy = (abs(skew) > self.skew_threshold or max_z > self.z_threshold) and np.unique(seen[:100_000]).size >= 3
        if not heavy:
            return {"name": name, "kind": "standard", "fill": fill, "mean": mean, "std": std}
        from sklearn.preprocessing import QuantileTransformer

        qt = QuantileTransformer(n_quantiles=int(min(self.n_quantiles, seen.size)), output_distribution="normal",
                                 subsample=self.subsample, random_state=self.random_state).fit(seen[:, None])
        return {"name": name, "kind": "quantile", "fill": fill, "quantiles": [float(q) for q in qt.quantiles_[:, 0]]}

    # -- encoding ------------------------------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """The encoded rows, ``(n_samples, n_features_out_)`` float32."""
        self._check_fitted()
        columns = self._columns_of(X)
        out = np.empty((len(columns[0]), self.n_features_out_), dtype=np.float32)
        at = 0
        for spec, column in zip(self.columns_, columns):
            block = _encode(spec, column)
            out[:, at:at + block.shape[1]] = block
            at += block.shape[1]
        return out

    def fit_transform(self, X, y=None, feature_names=None) -> np.ndarray:
        return self.fit(X, feature_names=feature_names).transform(X)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the encoded columns: a numeric column's name; ``name_category`` for one-hot columns
        (``name_nan`` for the missing category)."""
        self._check_fitted()
        names = []
        for spec in self.columns_:
            if spec["kind"] == "onehot":
                names += [f"{spec['name']}_{c}" for c in spec["categories"]] + ([f"{spec['name']}_nan"] if spec["missing"] else [])
            else:
                names.append(spec["name"])
        return np.asarray(names, dtype=object)

    @property
    def has_categorical(self) -> bool:
        """Whether some column is one-hot encoded."""
        return any(spec["kind"] == "onehot" for spec in getattr(self, "columns_", ()))

    def describe(self) -> str:
        """The encoding in words, e.g. ``"5 columns -> 9 inputs: 2 standardised, 1 quantile-normalised ..."``."""
        self._check_fitted()
        counts = {k: sum(spec["kind"] == k for spec in self.columns_) for k in _KINDS}
        words = {"standard": "standardised", "quantile": "quantile-normalised (heavy-tailed)", "constant": "constant (0)",
                 "onehot": "one-hot"}
        parts = [f"{counts[k]} {words[k]}" for k in _KINDS if counts[k]]
        return f"per column, {self.n_features_in_} columns -> {self.n_features_out_} inputs: " + ", ".join(parts)

    def _check_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            from ..exceptions import NotFittedError

            raise NotFittedError("This TablePreprocessor is not fitted yet; call fit(X) first.")

    def _columns_of(self, X) -> list:
        """The columns of ``X`` in the fitted order (by name when ``fit`` saw a DataFrame and ``X`` is one, else
        by position)."""
        names = [str(n) for n in self.feature_names_in_]
        if hasattr(X, "columns") and getattr(self, "_by_name", False):
            by_name = {str(c): c for c in X.columns}
            missing = [n for n in names if n not in by_name]
            if missing:
                raise DataError(f"X lacks the column(s) {missing[:5]} that the table preprocessing was fitted on; expected "
                                f"the {self.n_features_in_} columns {names[:10]}{'...' if len(names) > 10 else ''}.")
            X = X[[by_name[n] for n in names]]
        columns, _ = _as_columns(X, names)
        if len(columns) != self.n_features_in_:
            raise DataError(f"X has {len(columns)} columns, but the table preprocessing was fitted on {self.n_features_in_}.")
        return columns

    # -- plain state ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fitted state as JSON values only (numbers, strings, lists, dicts): ``json.dumps`` takes it as is.

        ``{"format": "layerwise.table", "version": 1, "params": {...}, "feature_names_in": [...],
        "by_name": bool, "columns": [{"name", "kind", ...}, ...]}``; a column's numbers are ``fill`` (the
        median for missing numbers), ``mean`` and ``std`` (standardised), ``quantiles`` (quantile-normalised:
        the values at ``numpy.linspace(0, 1, len(quantiles))``), or ``categories`` and ``missing`` (one-hot;
        ``text``: the values were compared as ``str``).
        """
        self._check_fitted()
        return {"format": _FORMAT, "version": _VERSION, "params": _plain(self.get_params()),
                "feature_names_in": [str(n) for n in self.feature_names_in_], "by_name": bool(self._by_name),
                "columns": _plain(self.columns_)}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TablePreprocessor:
        """Inverse of :meth:`to_dict`."""
        try:
            if state.get("format") != _FORMAT or not isinstance(state.get("version"), int):
                raise KeyError("format")
            if state["version"] > _VERSION:
                raise CheckpointError(f"The table preprocessing was saved in version {state['version']} of its format, "
                                      f"newer than this layerwise reads ({_VERSION}); upgrade layerwise.")
            pre = cls(**state["params"])
            columns = [dict(c) for c in state["columns"]]
            names = [str(n) for n in state["feature_names_in"]]
            if len(columns) != len(names) or any(c.get("kind") not in _KINDS or "name" not in c for c in columns):
                raise KeyError("columns")
            for c in columns:
                if c["kind"] == "onehot":
                    c["categories"] = list(c["categories"])
                    c["missing"] = bool(c["missing"])
                elif c["kind"] == "quantile" and len(c["quantiles"]) < 2:
                    raise KeyError("quantiles")
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            raise CheckpointError(f"The saved table preprocessing is incomplete or damaged ({e!r}); save the model again.") from None
        pre.feature_names_in_ = np.asarray(names, dtype=object)
        pre.n_features_in_ = len(names)
        pre._by_name = bool(state.get("by_name", True))
        pre.columns_ = columns
        pre.n_features_out_ = sum(_width(c) for c in columns)
        return pre

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


# -- column helpers ------------------------------------------------------------------------------------------
def _as_columns(X, names=None) -> tuple[list, list[str]]:
    """The columns of ``X`` (a DataFrame's Series, or 1-D arrays) and their names as ``str``. The columns of an
    object array are typed by their content: numbers (and None) make a numeric column, anything else a
    categorical one. Arrays need no pandas."""
    if hasattr(X, "columns") and hasattr(X, "iloc"):
        return [X.iloc[:, i] for i in range(X.shape[1])], [str(c) for c in X.columns]
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise DataError(f"Expected 2-D rows (n_samples, n_features); got an array of shape {arr.shape}.")
    columns = [arr[:, i] for i in range(arr.shape[1])]
    if arr.dtype.kind == "O":
        columns = [_typed(c) for c in columns]
    if names is None:
        names = [f"x{i}" for i in range(arr.shape[1])]
    return columns, [str(n) for n in names]


def _typed(column: np.ndarray) -> np.ndarray:
    """An object column as float64 when it holds only numbers and missing values, else as it is."""
    if all(v is None or (isinstance(v, (numbers.Real, np.number)) and not isinstance(v, (bool, np.bool_))) for v in column):
        return np.asarray([np.nan if v is None else v for v in column], dtype=np.float64)
    return column


def _numbers(column, name: str) -> np.ndarray:
    """A numeric column as float64 (a copy), missing values NaN; infinity refused."""
    try:
        if isinstance(column, np.ndarray):
            x = np.array(column, dtype=np.float64)
        else:
            x = np.array(column.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(f"Column {name!r} was numeric when the table preprocessing was fitted, but holds values that are "
                        f"not numbers now ({e}).") from None
    if np.isinf(x).any():
        raise DataError(f"Input X contains infinity in column {name!r} ({int(np.isinf(x).sum())} values); expected finite "
                        "numbers (NaN marks a missing value, replaced by the training median).")
    return x


def _native(v):
    """A category as a plain JSON value: NumPy scalars unwrapped; anything else (dates, tuples...) is None."""
    if isinstance(v, np.generic):
        v = v.item()
    return v if isinstance(v, (str, bool, int, float)) else None


def _category_values(column) -> tuple[np.ndarray, np.ndarray]:
    """``(values, missing)``: the column as an object array and its mask of missing values (NaN, None, ``pd.NA``,
    ``NaT``)."""
    if isinstance(column, np.ndarray):
        values = column.astype(object)
        missing = np.fromiter((_is_missing(v) for v in values), dtype=bool, count=len(values))
        return values, missing
    import pandas as pd

    values = column.astype(object).to_numpy()
    return values, np.asarray(pd.isna(values), dtype=bool)


def _is_missing(v) -> bool:
    if v is None:
        return True
    try:
        return bool(v != v)  # NaN, NaT
    except (TypeError, ValueError):
        return False


def _fit_categories(name: str, column) -> dict[str, Any]:
    values, missing = _category_values(column)
    present = values[~missing]
    natives = [_native(v) for v in present]
    text = any(n is None for n in natives)
    if text:  # values JSON cannot hold as they are: compared as their text
        found = {str(v) for v in present}
    else:
        found = set(natives)
    try:
        categories = sorted(found)
    except TypeError:  # numbers and strings together
        categories = sorted(found, key=lambda v: (type(v).__name__, str(v)))
    return {"name": name, "kind": "onehot", "categories": categories, "missing": bool(missing.any()), "text": text}


def _width(spec: dict) -> int:
    return len(spec["categories"]) + int(spec["missing"]) if spec["kind"] == "onehot" else 1


def _encode(spec: dict, column) -> np.ndarray:
    """One column's encoding, ``(n, width)`` float32."""
    n = len(column)
    if spec["kind"] == "onehot":
        values, missing = _category_values(column)
        text = spec.get("text", False)
        out = np.zeros((n, _width(spec)), dtype=np.float32)
        if spec["categories"]:
            index = {c: i for i, c in enumerate(spec["categories"])}
            codes = np.fromiter((_code(index, str(v) if text else v) for v in values), dtype=np.int64, count=n)
            codes[missing] = -1
            rows = np.flatnonzero(codes >= 0)
            out[rows, codes[rows]] = 1.0
        if spec["missing"]:
            out[missing, -1] = 1.0
        return out
    x = _numbers(column, spec["name"])
    x[np.isnan(x)] = spec["fill"]
    if spec["kind"] == "constant":
        return np.zeros((n, 1), dtype=np.float32)
    if spec["kind"] == "standard":
        return ((x - spec["mean"]) / spec["std"]).astype(np.float32)[:, None]
    return quantile_normal(x, np.asarray(spec["quantiles"], dtype=np.float64)).astype(np.float32)[:, None]


def _code(index: dict, value) -> int:
    """The category's position, -1 when unknown (or unhashable)."""
    try:
        return index.get(value, -1)
    except TypeError:
        return -1


def quantile_normal(x: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """scikit-learn's ``QuantileTransformer(output_distribution="normal")`` of one column, from its ``quantiles_``.

    The references are ``numpy.linspace(0, 1, len(quantiles))`` (as scikit-learn's ``references_``); the
    average of the forward and backward interpolations handles repeated quantiles; values at or beyond the
    extreme quantiles map to the clipped tails of N(0, 1).
    """
    from scipy import stats

    x = np.array(x, dtype=np.float64)
    references = np.linspace(0, 1, len(quantiles), endpoint=True)
    lower = x - _BOUNDS_THRESHOLD < quantiles[0]
    upper = x + _BOUNDS_THRESHOLD > quantiles[-1]
    x = 0.5 * (np.interp(x, quantiles, references) - np.interp(-x, -quantiles[::-1], -references[::-1]))
    x[upper] = 1.0
    x[lower] = 0.0
    clip_min = stats.norm.ppf(_BOUNDS_THRESHOLD - np.spacing(1))
    clip_max = stats.norm.ppf(1 - (_BOUNDS_THRESHOLD - np.spacing(1)))
    return np.clip(stats.norm.ppf(x), clip_min, clip_max)


def _plain(value):
    """``value`` with NumPy scalars and tuples turned into Python numbers and lists (JSON as is)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value

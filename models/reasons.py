"""The top factors behind each forecast, in words.

LightGBM's ``pred_contrib=True`` splits each customer's log-odds of buying within 30 days
into one contribution per feature (TreeSHAP). The three features with the largest absolute
contribution become the reasons, each phrased from the customer's own values and marked with
the direction it pushes the forecast, e.g.
``last order 95 days ago (late for a 30-day cycle) (lowers)``.

TreeSHAP costs far more than a prediction (LightGBM: ~0.4 ms per row for 150 trees of 15
leaves, 20 minutes for 3.5 million customers). :func:`tree_contributions` gives the same
numbers much faster, because a tree's contributions for a row depend on the row only through
the direction it takes at each of the tree's splits (TreeSHAP follows the row's direction
for the features in a coalition and both children, weighted by their training counts, for
the others). Rows that agree on every split of a tree get the same contributions from it; a
15-leaf tree has at most 2^14 such patterns and a real frame shows a few hundred. So per
tree: the split directions of every row as one integer (vectorised numpy), LightGBM's own
``pred_contrib`` for one row per distinct pattern and that one tree, and a gather-add back to
all rows. The sum over trees is LightGBM's, up to float rounding.

LightGBM sets a prediction's tree range on the booster itself, so two threads predicting
different ranges on one booster at once get each other's trees. The per-tree predictions
therefore run on a copy of the booster private to the calling thread (made once per thread
and booster), and the caller's booster only ever sees whole-model predictions.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

Phrase = Callable[[pd.DataFrame], pd.Series]

# LightGBM's kZeroThreshold: |x| <= this is "zero" for a split whose missing type is Zero
_ZERO = 1e-35
# above this many splits in one tree, the patterns are too many to enumerate: LightGBM does it
_MAX_SPLITS = 62
_DENSE_KEYS = 20  # up to 2^20 patterns, distinct ones are found with a lookup table, no sort
# patterns kept per tree (_KnownPatterns); beyond, new ones are computed and not kept
_MAX_KNOWN_PATTERNS = 1 << 16
# Below this many rows LightGBM's own TreeSHAP over all trees at once is cheaper than one
# LightGBM call per tree (measured, 150 trees of 15 leaves: ~0.5 ms per row for the former,
# ~55 ms for the latter whatever the rows; even at 64 rows 33 vs 55 ms). The HTTP API scores
# batches of 1 to 64 customers, where the per-tree calls were most of the scoring time.
_DIRECT_ROWS = 100


# Phrases are worded once per distinct input (`_phrased_once_per_input`), so they format
# plain Python values: for the few dozen values of an API batch, pandas' whole-column string
# operations cost ~1-2 ms per phrase (14 ms of a 32-customer batch) and Python's formatting
# microseconds; a batch partition has a few thousand distinct values at most.


def _numbers(frame: pd.DataFrame, column: str) -> list[float]:
    """The column as Python floats (NaN where missing or not a number)."""
    values = pd.to_numeric(frame[column], errors="coerce")
    return [float(v) for v in values.to_numpy(dtype=np.float64, na_value=np.nan).tolist()]


def _whole(value: float) -> str | None:
    """`value` rounded half to even, as integer text; None when it is not a finite number."""
    return str(round(value)) if math.isfinite(value) else None


def _rounded(values: list[float], decimals: int) -> list[float]:
    """numpy's rounding to `decimals` places (scaled, then half to even): what pandas'
    ``round`` gives, which Python's decimal-exact ``round`` sometimes does not (13.265)."""
    return [float(v) for v in np.round(np.asarray(values, dtype=np.float64), decimals).tolist()]


def _texts(frame: pd.DataFrame, texts: list[str | None]) -> pd.Series:
    return pd.Series(texts, index=frame.index, dtype="string")


# columns a phrase quotes besides its own feature's
_QUOTED = ("days_since_last_order", "cycle_days")


def _last_order(frame: pd.DataFrame) -> pd.Series:
    since = _numbers(frame, "days_since_last_order")
    cycles = _numbers(frame, "cycle_days") if "cycle_days" in frame.columns else None
    texts: list[str | None] = []
    for position, days in enumerate(since):
        shown = _whole(days)
        if shown is None:
            texts.append(None)
            continue
        text = f"last order {shown} days ago"
        cycle = cycles[position] if cycles is not None else math.nan
        cycle_shown = _whole(cycle)
        if cycle_shown is not None:
            where = "late for" if days > cycle else "within"
            text += f" ({where} a {cycle_shown}-day cycle)"
        texts.append(text)
    return _texts(frame, texts)


def _simple(template: str, column: str, offset: float = 0.0, decimals: int = 0) -> Phrase:
    """A phrase filling `template`'s ``{}`` with the column's value (+ `offset`), rounded
    (half to even) to `decimals` places: ``3``, or ``2.5`` with decimals."""

    def phrase(frame: pd.DataFrame) -> pd.Series:
        shifted = [value + offset for value in _numbers(frame, column)]
        if decimals == 0:
            shown = [_whole(value) for value in shifted]
        else:
            shown = [str(v) if math.isfinite(v) else None for v in _rounded(shifted, decimals)]
        return _texts(frame, [None if v is None else template.format(v) for v in shown])

    return phrase


def _due_in(frame: pd.DataFrame) -> pd.Series:
    """``due_in_interval_days`` (models.due_features): due in N days, or N days overdue."""
    texts: list[str | None] = []
    for value in _numbers(frame, "due_in_interval_days"):
        days = _whole(value)
        if days is None:
            texts.append(None)
        elif int(days) >= 0:
            texts.append(f"next purchase due in {days} days by the usual interval")
        else:
            texts.append(f"next purchase {-int(days)} days overdue by the usual interval")
    return _texts(frame, texts)


def _due_within(source: str, horizon: int) -> Phrase:
    """``due_{source}_within_{horizon}d`` (models.due_features) as a percentage."""
    what = "usual interval ends" if source == "interval" else "expected to run out"
    column = f"due_{source}_within_{horizon}d"

    def phrase(frame: pd.DataFrame) -> pd.Series:
        percents = [_whole(value * 100) for value in _numbers(frame, column)]
        return _texts(
            frame,
            [
                None if p is None else f"{what} within {horizon} days ({p}% likely)"
                for p in percents
            ],
        )

    return phrase


PHRASES: dict[str, Phrase] = {
    "days_since_last_order": _last_order,
    "frequency": _simple("{} purchase days so far", "frequency", offset=1.0),
    "n_orders": _simple("{} orders so far", "n_orders"),
    "recency": _simple("{} days between first and last purchase", "recency"),
    "T": _simple("first order {} days ago", "T"),
    "tenure_days": _simple("customer for {} days", "tenure_days"),
    "monetary_value": _simple("spends {} per repeat purchase", "monetary_value", decimals=2),
    "revenue_total": _simple("{} spent in total", "revenue_total", decimals=2),
    "overdue_ratio": _simple(
        "{}x the usual interval since the last order", "overdue_ratio", decimals=1
    ),
    "cycle_days": _simple("usual cycle of {} days", "cycle_days"),
    "days_until_depletion": _simple("expected to run out in {} days", "days_until_depletion"),
    "due_in_interval_days": _due_in,
    # the default horizons of FeatureConfig.due_window_days; others get the generic phrase
    **{
        f"due_{source}_within_{horizon}d": _due_within(source, horizon)
        for source in ("interval", "cycle")
        for horizon in (7, 14, 30, 60, 90)
    },
}


def _phrase(frame: pd.DataFrame, column: str) -> pd.Series:
    if column in PHRASES:
        return PHRASES[column](frame).astype("string")
    # any other column: its name and its value to two decimals (integers as they are)
    values = pd.to_numeric(frame[column], errors="coerce")
    name = column.replace("_", " ")
    if values.dtype.kind in "iub":
        return _texts(frame, [f"{name} = {v}" for v in values.tolist()])
    shown = _rounded(_numbers(frame, column), 2)
    return _texts(frame, [f"{name} = {v}" if math.isfinite(v) else None for v in shown])


def describe_reasons(
    features: pd.DataFrame, contributions: np.ndarray, columns: list[str], top: int = 3
) -> pd.Series:
    """One string per row: its `top` factors by absolute contribution, joined by ``; ``.

    `features` holds the rows' feature values (at least `columns`); `contributions` has one
    column per entry of `columns`, in that order. Ties go to the earlier column.
    """
    n_rows = len(features)
    if n_rows == 0:
        return pd.Series([], dtype="string", index=features.index)
    order = _top_columns(contributions, top)
    chosen = np.unique(order).tolist()
    # Only the columns a phrase can read (its own, and what `_last_order` quotes): the rows
    # of each feature are taken below, and taking them from all ~65 feature columns cost
    # 0.6 ms a feature even for one row.
    readable = {columns[position] for position in chosen} | set(_QUOTED)
    frame = features[[c for c in features.columns if c in readable]].reset_index(drop=True)
    picked = contributions[np.arange(n_rows)[:, None], order]
    # One phrase pass per feature (not per customer and rank): the cells that chose it,
    # found by one sort of the chosen columns rather than a scan of the table per feature
    cells = order.ravel()
    by_feature = np.argsort(cells, kind="stable")
    features_sorted = cells[by_feature]
    starts = np.flatnonzero(np.r_[True, features_sorted[1:] != features_sorted[:-1]])
    flat_texts = np.empty(len(cells), dtype=object)
    for start, end in zip(starts, [*starts[1:], len(cells)], strict=True):
        chosen_cells = by_feature[start:end]
        column = columns[int(features_sorted[start])]
        rows = chosen_cells // order.shape[1]
        flat_texts[chosen_cells] = _phrased_once_per_input(frame, rows, column)
    texts = flat_texts.reshape(order.shape)
    # joined by Arrow's string kernels: Python string additions cost ~0.5 s a partition
    text = pa.large_string()
    raises, lowers = pa.scalar(" (raises)", text), pa.scalar(" (lowers)", text)
    pieces: list[Any] = []
    for rank in range(order.shape[1]):
        if rank:
            pieces.append(pa.scalar("; ", text))
        pieces.append(pa.array(texts[:, rank], type=text))
        pieces.append(pc.if_else(pa.array(picked[:, rank] >= 0), raises, lowers))
    joined = pc.binary_join_element_wise(*pieces, pa.scalar("", text))
    return pd.Series(pd.arrays.ArrowStringArray(joined), index=features.index, dtype="string")


def _phrased_once_per_input(frame: pd.DataFrame, rows: np.ndarray, column: str) -> np.ndarray:
    """`column`'s phrase for each of `frame`'s `rows` (object array), worded once per
    distinct input: a phrase reads only its row's own value (and, for the last order, the
    cycle), and customers share values a lot (whole days, small counts, the BTYD columns of
    equal histories). Inputs are compared by their bits, so values that print differently
    (0.0 and -0.0) are never merged."""
    unknown = column.replace("_", " ") + " unknown"
    quoted = _QUOTED if column == "days_since_last_order" else ()
    # plain arrays, not frame selections: a column selection and an `iloc` cost ~1 ms a
    # feature in pandas, most of the reasons' time for an API batch of a few dozen rows
    inputs = {
        name: frame[name].to_numpy()[rows]
        for name in dict.fromkeys((column, *quoted))
        if name in frame.columns
    }
    codes = np.zeros(len(rows), dtype=np.int64)
    for values in inputs.values():
        if values.dtype.kind == "f":
            values = values.astype(np.float64).view(np.int64)  # bits: NaN payloads, signs apart
        column_codes, uniques = pd.factorize(values, use_na_sentinel=False)
        codes = codes * len(uniques) + column_codes
    _, first_of, inverse = np.unique(codes, return_index=True, return_inverse=True)
    distinct = pd.DataFrame({name: values[first_of] for name, values in inputs.items()})
    phrased = _phrase(distinct, column).fillna(unknown)
    return phrased.to_numpy(dtype=object)[inverse.reshape(-1)]


def _top_columns(contributions: np.ndarray, top: int) -> np.ndarray:
    """Per row, the `top` column indices by absolute value, largest first, ties to the
    earlier column (what a stable argsort gives, in a few argmax passes instead of a sort)."""
    size = np.abs(contributions)
    size[np.isnan(size)] = -1.0  # NaN last, as argsort puts it (in place: no second copy)
    rows = np.arange(size.shape[0])
    order = np.empty((size.shape[0], min(top, size.shape[1])), dtype=np.intp)
    for rank in range(order.shape[1]):
        order[:, rank] = np.argmax(size, axis=1)  # the first of equal maxima
        size[rows, order[:, rank]] = -np.inf
    return order


def tree_contributions(booster: Any, values: np.ndarray) -> np.ndarray:
    """``booster.predict(values, pred_contrib=True)`` without the bias column, shape
    (n_rows, n_features), computed per distinct split pattern (module docstring).

    `booster` is a binary ``lightgbm.Booster`` with numerical splits only; `values` float64,
    columns in the booster's feature order. Any other model falls back to LightGBM itself.
    """
    # either memory order: a frame's columns come column-major (pandas), which is the
    # per-feature layout the split patterns read, so no transposed copy is made then
    values = np.asarray(values, dtype=np.float64)
    n_rows, n_features = values.shape
    if n_rows == 0:
        return np.zeros((0, n_features))
    if n_rows < _DIRECT_ROWS:
        # whole-model prediction: safe on the caller's booster (module docstring)
        return np.asarray(booster.predict(values, pred_contrib=True, num_threads=1))[:, :-1]
    private, trees, known = _private_booster(booster)
    if trees is None or booster.num_model_per_iteration() != 1:
        return np.asarray(booster.predict(values, pred_contrib=True))[:, :-1]
    columns = _Columns(values)
    out = np.zeros((n_features, n_rows))  # one contiguous row per feature: fast adds
    for index, splits in enumerate(trees):
        if not splits:
            continue  # a single leaf: only the bias, which the reasons do not use
        pattern = _split_pattern(columns, splits)
        distinct, rows = _distinct(pattern, len(splits))
        per_pattern, features = known[index].contributions(
            distinct, rows, partial(_one_tree, private, values, index)
        )
        # one contiguous row per feature: a 1-D gather is faster than a column of a matrix
        by_feature = np.ascontiguousarray(per_pattern.T)
        for column in np.flatnonzero(np.any(by_feature != 0.0, axis=1)).tolist():
            out[features[column]] += by_feature[column][rows]
    return out.T


def _one_tree(booster: Any, values: np.ndarray, tree: int, rows: np.ndarray) -> np.ndarray:
    """LightGBM's ``pred_contrib`` of tree `tree` alone for `values`' `rows`."""
    return np.asarray(
        booster.predict(
            values[rows],
            pred_contrib=True,
            start_iteration=tree,
            num_iteration=1,
            # one thread: a few hundred rows, and OpenMP's start-up on a busy machine cost
            # ten times the work
            num_threads=1,
        )
    )


class _KnownPatterns:
    """One tree's contributions per split pattern, kept from call to call: a batch scores
    partition after partition with the same trees, and a tree's patterns recur (a 500k-row
    partition shows ~700 per tree, nearly all seen in the partitions before), so LightGBM
    is asked only about patterns not met yet. Only the tree's own split features are kept:
    every other feature's contribution from it is 0."""

    def __init__(self, splits: list[dict[str, Any]]) -> None:
        self.features = np.unique([int(node["split_feature"]) for node in splits])
        self.patterns = np.zeros(0, dtype=np.int64)  # sorted
        self.values = np.zeros((0, len(self.features)))

    def contributions(
        self,
        distinct: np.ndarray,
        rows: np.ndarray,
        compute: Callable[[np.ndarray], np.ndarray],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Contributions of the `distinct` (sorted) patterns, one row each, on the columns
        ``features`` (returned too); `rows` maps each input row to its pattern, and
        ``compute(row_positions)`` is LightGBM's ``pred_contrib`` for those input rows."""
        position = np.searchsorted(self.patterns, distinct)
        found = position < len(self.patterns)
        found[found] = self.patterns[position[found]] == distinct[found]
        if not found.all():
            representative = np.empty(len(distinct), dtype=np.int64)
            representative[rows] = np.arange(len(rows))  # any row of a pattern stands for all
            fresh = np.asarray(compute(representative[~found]))[:, self.features]
            if len(self.patterns) + len(fresh) > _MAX_KNOWN_PATTERNS:
                values = np.empty((len(distinct), len(self.features)))
                values[found] = self.values[position[found]]
                values[~found] = fresh
                return values, self.features
            patterns = np.concatenate([self.patterns, distinct[~found]])
            order = np.argsort(patterns, kind="stable")
            self.patterns = patterns[order]
            self.values = np.concatenate([self.values, fresh])[order]
            position = np.searchsorted(self.patterns, distinct)
        return self.values[position], self.features


_THREAD = threading.local()


def _private_booster(
    booster: Any,
) -> tuple[Any, list[list[dict[str, Any]]] | None, list[_KnownPatterns]]:
    """This thread's own copy of `booster`, the copy's splits (module docstring; None when
    the fast path does not apply) and each tree's known patterns. Cached per thread and
    booster: the copy and the model dump cost milliseconds, a request's contributions less."""
    cache: weakref.WeakKeyDictionary[Any, tuple[Any, Any, Any]] | None = getattr(
        _THREAD, "boosters", None
    )
    if cache is None:
        cache = _THREAD.boosters = weakref.WeakKeyDictionary()
    entry = cache.get(booster)
    if entry is None:
        import lightgbm as lgb

        trees = _numerical_trees(booster)
        private = booster if trees is None else lgb.Booster(model_str=booster.model_to_string())
        known = [_KnownPatterns(splits) for splits in trees or []]
        entry = cache[booster] = (private, trees, known)
    return entry


def _numerical_trees(booster: Any) -> list[list[dict[str, Any]]] | None:
    """Each tree's splits in a fixed order (None when a tree has a categorical split or too
    many splits to enumerate)."""
    trees = []
    for info in booster.dump_model()["tree_info"]:
        splits: list[dict[str, Any]] = []
        stack = [info["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_feature" not in node:
                continue
            if node.get("decision_type") != "<=":
                return None
            splits.append(node)
            stack.extend((node["left_child"], node["right_child"]))
        if len(splits) > _MAX_SPLITS:
            return None
        trees.append(splits)
    return trees


class _Columns:
    """The frame one feature at a time (contiguous), with LightGBM's view of missing values:
    NaN is 0 unless a split's missing type is NaN."""

    def __init__(self, values: np.ndarray) -> None:
        self.by_feature = np.ascontiguousarray(values.T)
        self._nan: dict[int, np.ndarray | None] = {}
        self._nan_as_zero: dict[int, np.ndarray] = {}

    def nan(self, feature: int) -> np.ndarray | None:
        """Where the feature is NaN (None: nowhere)."""
        if feature not in self._nan:
            mask = np.isnan(self.by_feature[feature])
            self._nan[feature] = mask if mask.any() else None
        return self._nan[feature]

    def nan_as_zero(self, feature: int) -> np.ndarray:
        nan = self.nan(feature)
        if nan is None:
            return self.by_feature[feature]
        if feature not in self._nan_as_zero:
            self._nan_as_zero[feature] = np.where(nan, 0.0, self.by_feature[feature])
        return self._nan_as_zero[feature]


def _split_pattern(columns: _Columns, splits: list[dict[str, Any]]) -> np.ndarray:
    """Per row, bit ``j`` set when the row goes left at split ``j`` (LightGBM's rule:
    NaN is 0 unless the missing type is NaN; missing goes the default way)."""
    # 32-bit when the bits fit: half the memory traffic of the bit operations
    kind = np.int32 if len(splits) < 32 else np.int64
    pattern: np.ndarray = np.zeros(columns.by_feature.shape[1], dtype=kind)
    for bit, node in enumerate(splits):
        feature = int(node["split_feature"])
        missing_type = node.get("missing_type", "None")
        threshold = float(node["threshold"])
        if missing_type == "NaN":
            left = columns.by_feature[feature] <= threshold  # NaN compares False ...
            nan = columns.nan(feature)
            if nan is not None and node["default_left"]:
                left |= nan  # ... and goes the default way
        else:
            column = columns.nan_as_zero(feature)
            left = column <= threshold
            if missing_type == "Zero":
                zero = np.abs(column) <= _ZERO
                left = np.where(zero, bool(node["default_left"]), left)
        pattern |= left.astype(kind) << bit
    return pattern


def _distinct(pattern: np.ndarray, n_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct patterns and each row's index among them."""
    if n_bits > _DENSE_KEYS:
        distinct, rows = np.unique(pattern, return_inverse=True)
        return distinct, rows.reshape(-1)
    present = np.zeros(1 << n_bits, dtype=bool)
    present[pattern] = True
    distinct = np.flatnonzero(present)
    position = np.cumsum(present) - 1
    return distinct, position[pattern]

"""Score every customer known at `as_of`: the SPEC.md score columns, in order."""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from typing import Any

import numpy as np
import pandas as pd

from models.baselines._fitting import distinct_rows
from models.btyd_features import BTYD_FEATURES, add_btyd_features
from models.reasons import describe_reasons, tree_contributions
from models.timing import quantile_days
from training.labels import as_of_day
from training.snapshots import default_feature_builder
from training.train import TrainedModel

SCORE_COLUMNS = [
    "customer_id",
    "as_of",
    "p_buy_7d",
    "p_buy_14d",
    "p_buy_30d",
    "p_buy_60d",
    "p_buy_90d",
    "next_purchase_date",
    "next_purchase_low",
    "next_purchase_high",
    "p_churn",
    "predicted_value_365d",
    "rfm_segment",
    "lifecycle_stage",
    "price_sensitivity",
    "depletion_date",
    "reasons",
    "model_version",
]


def _dates(start: pd.Timestamp, days: np.ndarray) -> pd.Series:
    """`start + ceil(days)` as calendar dates (None where `days` is NaN)."""
    first = np.datetime64(start.tz_localize(None).normalize().date(), "D")
    offsets = np.ceil(np.asarray(days, dtype=np.float64))
    known = ~np.isnan(offsets)
    out = np.full(len(offsets), np.datetime64("NaT"), dtype="datetime64[D]")
    out[known] = first + offsets[known].astype(np.int64)
    return pd.Series(_date_objects(out), dtype=object)


def _as_date(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values, errors="coerce", utc=True).dt.tz_localize(None)
    return pd.Series(_date_objects(stamps.to_numpy("datetime64[D]")), index=values.index)


def _date_objects(days: np.ndarray) -> np.ndarray:
    """``datetime.date`` objects (None for NaT), made by numpy in C: pandas' ``.dt.date``
    makes a Timestamp per value first (0.1 s per 500k dates, three columns a partition)."""
    return days.astype("datetime64[D]").astype(object)


def score_frame(
    trained: TrainedModel,
    features: pd.DataFrame,
    as_of: dt.date | str | pd.Timestamp,
    *,
    with_reasons: bool = True,
) -> pd.DataFrame:
    """Score a feature frame built at `as_of` (see :meth:`TrainedModel.features`).

    `with_reasons=False` leaves ``reasons`` empty: the per-feature contributions behind them
    cost most of the scoring time, and a backtest does not read them.
    """
    model = trained.model
    day = as_of_day(as_of)
    # A share column the model knows but this frame lacks (a channel nobody here used) is
    # missing information, which LightGBM handles, not an error.
    X = features.reindex(columns=model.feature_columns_).astype(float)
    predicted = model.predict(X)
    probabilities = predicted[[f"p_buy_{h}d" for h in model.horizons]].to_numpy()
    out = pd.DataFrame(index=features.index)
    out["customer_id"] = features["customer_id"].astype("string")
    out["as_of"] = day.date()
    for column in predicted.columns[: len(model.horizons)]:
        out[column] = predicted[column]
    out["next_purchase_date"] = _dates(day, quantile_days(probabilities, model.horizons, 0.5))
    out["next_purchase_low"] = _dates(day, quantile_days(probabilities, model.horizons, 0.1))
    out["next_purchase_high"] = _dates(day, quantile_days(probabilities, model.horizons, 0.9))
    out["p_churn"] = predicted["p_churn"]
    out["predicted_value_365d"] = predicted["predicted_value_365d"]
    for column in ("rfm_segment", "lifecycle_stage", "price_sensitivity"):
        out[column] = features[column].astype("string") if column in features else pd.NA
    out["depletion_date"] = (
        _as_date(features["depletion_date"]).to_numpy() if "depletion_date" in features else None
    )
    out["reasons"] = reasons(model, X.assign(**_phrase_inputs(features))) if with_reasons else None
    return out.reset_index(drop=True)


def reasons(model: Any, X: pd.DataFrame, horizon: int = 30) -> np.ndarray:
    """``model.reasons(X)`` (the top factors of P(buy within `horizon` days), in words), with
    the TreeSHAP contributions computed per distinct split pattern
    (:func:`models.reasons.tree_contributions`: the same numbers, many times faster).

    `X` holds the model's feature columns and the non-model columns phrases may quote.
    """
    explained = getattr(model, "explained_classifier", None)
    classifier = explained(horizon) if explained is not None else None
    booster = getattr(getattr(classifier, "booster_", None), "booster_", None)
    if classifier is None or booster is None:
        return np.asarray(model.reasons(X, horizon=horizon).to_numpy())
    values = X[list(classifier.feature_names_in_)].to_numpy(dtype=float)
    contributions = tree_contributions(booster, values)
    del values  # a copy of the features: let it go before the wording's own copies
    return np.asarray(describe_reasons(X, contributions, model.feature_columns_).to_numpy())


def _phrase_inputs(features: pd.DataFrame) -> dict[str, pd.Series]:
    """Non-model columns the reasons may quote (e.g. the cycle length)."""
    return {c: features[c] for c in ("cycle_days", "tenure_days") if c in features}


def scoring_features(
    model: TrainedModel,
    orders: pd.DataFrame,
    as_of: dt.date | str | pd.Timestamp,
    products: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``model.features(orders, as_of, products)``, with the BTYD columns computed once per
    distinct ``(frequency, recency, T)``.

    With the model's frozen BTYD parameters those columns are a function of that triple
    alone, and customers share triples a lot (whole days; most bought once): on a synthetic
    shop of 250,000 customers the Pareto/NBD series took 63 of the 73 seconds of scoring.
    """
    params = getattr(model, "btyd_params", None)
    if not model.use_btyd_features or params is None:
        return model.features(orders, as_of, products)
    build = default_feature_builder()
    frame = build(orders, as_of_day(as_of), products, model.feature_config)
    history = frame[["frequency", "recency", "T"]]
    codes, first = distinct_rows(*(history[c].to_numpy(dtype=float) for c in history.columns))
    distinct = history.iloc[first].reset_index(drop=True)
    values = _known_histories(model, params).features(distinct)
    for position, column in enumerate(BTYD_FEATURES):
        frame[column] = values[codes, position]
    return frame


class _KnownHistories:
    """A model's BTYD columns per ``(frequency, recency, T)`` met so far: a batch scores
    partition after partition with the same model, and most histories recur (on 10M orders
    the Pareto/NBD series were ~0.6 s of each 500k-row partition). Histories with a NaN are
    not kept (NaN never equals itself as a key); at most ``_MAX_KNOWN_HISTORIES``."""

    def __init__(self, params: Any) -> None:
        self.params = params
        self.rows: dict[tuple[float, float, float], int] = {}
        self.values = np.zeros((0, len(BTYD_FEATURES)))
        self.lock = threading.Lock()

    def features(self, histories: pd.DataFrame) -> np.ndarray:
        """The BTYD columns (``BTYD_FEATURES`` order) of each row of `histories`."""
        columns = (histories[c].to_numpy(dtype=float).tolist() for c in _HISTORY)
        keys = list(zip(*columns, strict=True))
        with self.lock:  # `values` is replaced, never changed: a snapshot stays valid
            rows, values = self.rows, self.values
            found = np.fromiter((rows.get(key, -1) for key in keys), np.int64, len(keys))
        missing = np.flatnonzero(found < 0)
        if len(missing) == 0:
            return values[found]
        added = add_btyd_features(histories.iloc[missing].reset_index(drop=True), self.params)
        computed = added[list(BTYD_FEATURES)].to_numpy(dtype=float)
        out = np.empty((len(keys), len(BTYD_FEATURES)))
        out[found >= 0] = values[found[found >= 0]]
        out[missing] = computed
        self._keep([keys[i] for i in missing.tolist()], computed)
        return out

    def _keep(self, keys: list[tuple[float, float, float]], computed: np.ndarray) -> None:
        with self.lock:
            # new to this object (another thread may have kept some meanwhile), no NaN
            new = [
                i for i, key in enumerate(keys) if all(v == v for v in key) and key not in self.rows
            ]
            if not new or len(self.rows) + len(new) > _MAX_KNOWN_HISTORIES:
                return
            start = len(self.values)
            self.values = np.concatenate([self.values, computed[new]])
            for offset, i in enumerate(new):
                self.rows[keys[i]] = start + offset


_HISTORY = ("frequency", "recency", "T")
# 10M orders have ~700k distinct histories; a million entries are ~0.3 GB with the dict,
# which also bounds what a long-running API server keeps
_MAX_KNOWN_HISTORIES = 1_000_000
# per model object, by id (models are dataclasses: not hashable), dropped with the model
_KNOWN_HISTORIES: dict[int, _KnownHistories] = {}
_KNOWN_LOCK = threading.Lock()


def _known_histories(model: Any, params: Any) -> _KnownHistories:
    with _KNOWN_LOCK:
        known = _KNOWN_HISTORIES.get(id(model))
        if known is None:
            known = _KNOWN_HISTORIES[id(model)] = _KnownHistories(params)
            weakref.finalize(model, _KNOWN_HISTORIES.pop, id(model), None)
        return known


def score_customers(
    model: TrainedModel,
    orders: pd.DataFrame,
    as_of: dt.date | str | pd.Timestamp,
    products: pd.DataFrame | None = None,
    *,
    model_version: str = "unversioned",
) -> pd.DataFrame:
    """One row per customer with a paid order on or before `as_of`: the SPEC score columns.

    `orders` is the canonical orders frame; only rows up to `as_of` are used.
    """
    features = scoring_features(model, orders, as_of, products)
    scores = score_frame(model, features, as_of)
    scores["model_version"] = model_version
    return scores[SCORE_COLUMNS]

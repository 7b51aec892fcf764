"""Train the product's model on the history up to `as_of`.

:func:`fit_model` is the stable entry point (the MLflow wrapper and the CLI call it): it
stacks training snapshots (:mod:`training.snapshots`), fits a
:class:`models.repurchase.RepurchaseModel` and returns a joblib-picklable
:class:`TrainedModel` that knows how to rebuild its features for scoring.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from features.errors import InputError
from models.baselines.summary import customer_summary
from models.btyd_features import BtydParams, add_btyd_features, fit_btyd_params
from models.repurchase import HORIZONS, RepurchaseModel
from training.labels import as_of_day
from training.snapshots import build_training_frame, default_feature_builder

CHURN_DAYS = 180


@dataclass
class TrainedModel:
    """A fitted model plus what scoring needs to rebuild its inputs the same way."""

    model: RepurchaseModel
    trained_as_of: dt.date
    feature_config: Any = None
    use_btyd_features: bool = True
    snapshot_cutoffs: list[dt.date] = field(default_factory=list)
    n_training_rows: int = 0
    # BTYD parameters fitted on everyone at `trained_as_of`, applied unchanged at scoring so
    # a customer's score does not depend on who else is scored. None: a model pickled before
    # they were stored, which refits on the scored frame (the old behaviour).
    btyd_params: BtydParams | None = None

    def features(
        self,
        orders: pd.DataFrame,
        as_of: dt.date | str | pd.Timestamp,
        products: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """The feature frame at `as_of` (all columns, including the non-model ones)."""
        build = default_feature_builder()
        frame = build(orders, as_of_day(as_of), products, self.feature_config)
        if not self.use_btyd_features:
            return frame
        return add_btyd_features(frame, getattr(self, "btyd_params", None))


def fit_model(
    orders: pd.DataFrame,
    as_of: dt.date | str | pd.Timestamp,
    products: pd.DataFrame | None = None,
    *,
    config: Any = None,
    step_days: int = 21,
    max_snapshots: int = 12,
    use_btyd_features: bool = True,
    model: RepurchaseModel | None = None,
) -> TrainedModel:
    """Fit timing, churn and value models on snapshots of the orders up to `as_of`.

    `orders` is the canonical frame (``features.tables.read_orders``); `config` a
    ``features.config.FeatureConfig`` (None: defaults). Orders after `as_of` are ignored.
    """
    from features.pipeline import model_feature_columns
    from features.population import population_config

    end = as_of_day(as_of)
    training = build_training_frame(
        orders,
        end,
        products,
        config=config,
        step_days=step_days,
        max_snapshots=max_snapshots,
        horizons=HORIZONS,
        churn_days=CHURN_DAYS,
        extra_features=add_btyd_features if use_btyd_features else None,
    )
    if training.empty:
        raise InputError(f"no paid orders early enough before {end.date()} to learn from")
    label_columns = [c for c in training.columns if c.startswith("label_")]
    columns = model_feature_columns(training.drop(columns=["cutoff", *label_columns]))
    at_as_of = default_feature_builder()(orders, end, products, config)
    btyd_params = _population_btyd_params(orders, end) if use_btyd_features else None
    estimator = model if model is not None else RepurchaseModel(churn_days=CHURN_DAYS)
    estimator.fit(
        training[columns].astype(float),
        training[label_columns],
        training["cutoff"],
        now=model_rows(at_as_of, btyd_params, columns),
        as_of=end,
    )
    return TrainedModel(
        model=estimator,
        btyd_params=btyd_params,
        trained_as_of=end.date(),
        # population statistics of as_of fixed (RFM splits, channel and category lists, the
        # shop-wide pace): a customer scored alone (the API) gets the batch's features
        feature_config=population_config(at_as_of, orders, end, products, config, columns),
        use_btyd_features=use_btyd_features,
        snapshot_cutoffs=sorted(c.date() for c in training["cutoff"].unique()),
        n_training_rows=len(training),
    )


def model_rows(
    at_as_of: pd.DataFrame, btyd_params: BtydParams | None, columns: list[str]
) -> pd.DataFrame:
    """The customers at as_of as the model reads them (with the BTYD columns of the
    parameters fitted at as_of), for :meth:`RepurchaseModel.fit`'s level at as_of."""
    frame = add_btyd_features(at_as_of, btyd_params) if btyd_params is not None else at_as_of
    return frame.reindex(columns=columns).astype(float)


def _population_btyd_params(orders: pd.DataFrame, as_of: pd.Timestamp) -> BtydParams:
    """BTYD parameters fitted on every customer known at `as_of` (purchase-day RFM, days)."""
    summary = customer_summary(orders, as_of)
    return fit_btyd_params(summary["frequency"], summary["recency"], summary["T"])

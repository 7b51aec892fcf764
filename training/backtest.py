"""An honest time-based backtest: train up to `as_of`, judge on what happened after it.

The model and every baseline score the same customers (everyone with a paid order on or
before `as_of`) and are judged on the same outcomes, read from the orders after `as_of` up to
the last order in the data (``data_end``). A horizon is judged only when
``as_of + h <= data_end``. Value is judged on revenue in ``(as_of, as_of + W]`` with
``W = min(365, data_end - as_of)`` days (``value_window_days`` in the result).

Baselines (fitted on data up to `as_of` only):

- ``bg_nbd`` / ``pareto_nbd``: fitted on the RFM summary at `as_of` (days); P(buy within h)
  from the models, churn = 1 - P(buy within churn_days), value = expected purchases in
  365 days x the customer's mean revenue per purchase day;
- ``recency_rank`` / ``median_interval``: calibrated on the snapshot at ``as_of - 90 days``
  (whose 90-day outcomes are known by `as_of`); churn = 1 - P(buy within 90 days), no value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.tables import paid_orders
from models.baselines import (
    BetaGeoModel,
    MedianIntervalRule,
    ParetoNBDModel,
    RecencyRank,
    customer_summary,
    days_until_next_purchase,
)
from models.booster import AnchorClassifier
from models.repurchase import HORIZONS
from models.timing import quantile_days, restricted_mean_days
from training.labels import as_of_day, label_snapshots, orders_up_to
from training.metrics import (
    classification_metrics,
    concordance_index,
    median_absolute_error_days,
    normalized_gini,
    spearman,
)
from training.predict import score_frame
from training.train import CHURN_DAYS, TrainedModel, fit_model

Progress = Callable[[str], None]
METHODS = ("model", "bg_nbd", "pareto_nbd", "recency_rank", "median_interval")


@dataclass
class BacktestResult:
    """Everything the report and the CLI need from one backtest."""

    as_of: dt.date
    data_end: dt.date
    metrics: dict[str, float]
    predictions: dict[str, pd.DataFrame]
    outcomes: pd.DataFrame
    customers: pd.DataFrame
    value_window_days: int
    feature_importance: pd.Series
    trained: TrainedModel | None = None
    notes: list[str] = field(default_factory=list)


def _baseline_predictions(
    orders: pd.DataFrame, as_of: pd.Timestamp, customers: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """P(buy within h), churn and value of every baseline for `customers` (index order)."""
    history = orders_up_to(orders, as_of)
    summary = customer_summary(history, as_of).reindex(customers["customer_id"])
    frequency = summary["frequency"].to_numpy(dtype=float)
    recency = summary["recency"].to_numpy(dtype=float)
    age = summary["T"].to_numpy(dtype=float)
    spend = customers["revenue_total"].to_numpy(dtype=float) / (frequency + 1)
    out: dict[str, pd.DataFrame] = {}
    for name, btyd in (("bg_nbd", BetaGeoModel()), ("pareto_nbd", ParetoNBDModel())):
        btyd.fit(frequency, recency, age)
        alive = btyd.probability_alive(frequency, recency, age)  # shared by every horizon
        buys_within = {
            days: btyd.probability_of_purchase(days, frequency, recency, age, p_alive=alive)
            for days in (*HORIZONS, CHURN_DAYS)
        }
        frame = pd.DataFrame({f"p_buy_{h}d": buys_within[h] for h in HORIZONS})
        frame["p_churn"] = 1 - buys_within[CHURN_DAYS]
        frame["predicted_value_365d"] = (
            btyd.expected_purchases(365, frequency, recency, age) * spend
        )
        out[name] = frame
    # The heuristics learn their calibration on the snapshot 90 days earlier.
    earlier = as_of - pd.Timedelta(days=max(HORIZONS))
    past = customer_summary(history, earlier)
    if past.empty:  # a shop younger than 90 days: nothing to calibrate them on
        return out
    until = days_until_next_purchase(history, earlier, past.index)
    since_now = summary["days_since_last_purchase"].to_numpy(dtype=float)
    interval_now = summary["median_interval_days"].to_numpy(dtype=float)
    recency_rank = RecencyRank(horizons=HORIZONS).fit(past["days_since_last_purchase"], until)
    median_rule = MedianIntervalRule(horizons=HORIZONS).fit(
        past["days_since_last_purchase"], past["median_interval_days"], until
    )
    for name, probabilities in (
        ("recency_rank", recency_rank.predict_proba_horizons(since_now)),
        ("median_interval", median_rule.predict_proba_horizons(since_now, interval_now)),
    ):
        frame = pd.DataFrame(probabilities, columns=[f"p_buy_{h}d" for h in HORIZONS])
        frame["p_churn"] = 1 - frame[f"p_buy_{max(HORIZONS)}d"]
        frame["predicted_value_365d"] = np.nan
        out[name] = frame
    return out


def _with_timing(frame: pd.DataFrame) -> pd.DataFrame:
    probabilities = frame[[f"p_buy_{h}d" for h in HORIZONS]].to_numpy(dtype=float)
    return frame.assign(
        predicted_days=quantile_days(probabilities, HORIZONS, 0.5),
        expected_days_capped=restricted_mean_days(probabilities, HORIZONS),
    )


def evaluate(
    predictions: dict[str, pd.DataFrame],
    outcomes: pd.DataFrame,
    observed_days: int,
    value_window_days: int,
) -> dict[str, float]:
    """Flat metrics ``<method>.<quantity>.<metric>`` for every method in `predictions`."""
    metrics: dict[str, float] = {}
    event_days = outcomes["label_days_to_next_purchase"].to_numpy(dtype=float)
    bought = ~np.isnan(event_days)
    event_or_censor = np.where(bought, event_days, observed_days)
    actual_value = outcomes[f"label_revenue_{value_window_days}d"].to_numpy(dtype=float)
    for method, frame in predictions.items():
        for horizon in HORIZONS:
            if horizon > observed_days:
                continue
            scores = classification_metrics(
                outcomes[f"label_bought_{horizon}d"].to_numpy(),
                frame[f"p_buy_{horizon}d"].to_numpy(),
            )
            for name, figure in scores.items():
                metrics[f"{method}.p_buy_{horizon}d.{name}"] = figure
        if observed_days >= CHURN_DAYS:
            scores = classification_metrics(
                outcomes[f"label_churned_{CHURN_DAYS}d"].to_numpy(), frame["p_churn"].to_numpy()
            )
            for name, figure in scores.items():
                metrics[f"{method}.p_churn.{name}"] = figure
        metrics[f"{method}.time_to_next.concordance"] = concordance_index(
            event_or_censor, frame["expected_days_capped"].to_numpy(), bought
        )
        metrics[f"{method}.time_to_next.median_abs_error_days"] = median_absolute_error_days(
            np.where(bought, event_days, np.nan), frame["predicted_days"].to_numpy()
        )
        predicted_value = frame["predicted_value_365d"].to_numpy(dtype=float)
        if not np.isnan(predicted_value).all():
            metrics[f"{method}.value.spearman"] = spearman(actual_value, predicted_value)
            metrics[f"{method}.value.normalized_gini"] = normalized_gini(
                np.clip(actual_value, 0, None), predicted_value
            )
    metrics["data.value_window_days"] = float(value_window_days)
    metrics["data.observed_days"] = float(observed_days)
    return metrics


def run_backtest(
    orders: pd.DataFrame,
    as_of: dt.date | str | pd.Timestamp,
    products: pd.DataFrame | None = None,
    *,
    config: Any = None,
    progress: Progress | None = None,
) -> BacktestResult:
    """Train on orders up to `as_of`, score at `as_of`, judge model and baselines after it.

    `orders` is the canonical orders frame covering the time after `as_of` as well (the
    outcomes come from there); the model and the baselines never see those rows.
    """
    say = progress or (lambda message: None)
    day = as_of_day(as_of)
    paid = paid_orders(orders)
    data_end = paid["ordered_at"].max().floor("D")
    observed_days = int((data_end - day).days)
    if observed_days < min(HORIZONS):
        from features.errors import InputError

        raise InputError(
            f"as_of {day.date()} leaves {max(observed_days, 0)} days of data after it; "
            f"a backtest needs at least {min(HORIZONS)}"
        )
    history = orders_up_to(orders, day)
    say("training the model on snapshots up to as_of")
    trained = fit_model(history, day, products, config=config)
    say("scoring at as_of")
    customers = trained.features(history, day, products)
    scores = score_frame(trained, customers, day, with_reasons=False)
    say("fitting the baselines")
    predictions = {"model": scores}
    predictions.update(_baseline_predictions(history, day, customers))
    predictions = {name: _with_timing(frame) for name, frame in predictions.items()}
    say("evaluating on what happened after as_of")
    value_window_days = min(365, observed_days)
    keys = pd.DataFrame({"customer_id": customers["customer_id"], "cutoff": day})
    outcomes = label_snapshots(
        keys,
        orders,
        data_end,
        horizons=HORIZONS,
        churn_days=CHURN_DAYS,
        value_windows=(value_window_days,),
    )
    metrics = evaluate(predictions, outcomes, observed_days, value_window_days)
    missing = [method for method in METHODS if method not in predictions]
    learned_window = trained.model.value_window_days_
    notes = [
        f"value judged on revenue in the {value_window_days} days after as_of",
        f"value model learned on {learned_window}-day revenue, scaled to 365 days"
        if learned_window is not None
        else "less than 90 days of history: value is BG/NBD's expected purchases x mean spend",
    ]
    if missing:
        notes.append(
            f"no customers {max(HORIZONS)} days before as_of to calibrate "
            f"{' and '.join(missing)} on: left out"
        )
    left = [f"{h}" for h, c in trained.model.timing_.items() if isinstance(c, AnchorClassifier)]
    if left:
        notes.append(
            f"too little history to learn buying within {', '.join(left)} days (one labelled "
            "snapshot): Pareto/NBD's P(buy) is used as it is"
        )
    if trained.model.churn_fallback_:
        notes.append("churn window not observable in training history: p_churn = 1 - p_buy_90d")
    return BacktestResult(
        as_of=day.date(),
        data_end=data_end.date(),
        metrics=metrics,
        predictions=predictions,
        outcomes=outcomes,
        customers=customers,
        value_window_days=value_window_days,
        feature_importance=trained.model.feature_importance(),
        trained=trained,
        notes=notes,
    )


def methods_of(result: BacktestResult) -> list[str]:
    """The methods with predictions in `result`, in :data:`METHODS` order (a shop younger
    than 90 days has no recency-rank or median-interval baseline)."""
    return [method for method in METHODS if method in result.predictions]


def headline_table(result: BacktestResult) -> pd.DataFrame:
    """ROC AUC and Brier per horizon (rows: methods), the table the CLI prints."""
    rows = {}
    for method in methods_of(result):
        row = {}
        for horizon in HORIZONS:
            for metric in ("roc_auc", "brier"):
                key = f"{method}.p_buy_{horizon}d.{metric}"
                if key in result.metrics:
                    row[f"{horizon}d {metric}"] = result.metrics[key]
        key = f"{method}.p_churn.roc_auc"
        if key in result.metrics:
            row["churn roc_auc"] = result.metrics[key]
        key = f"{method}.time_to_next.concordance"
        row["c-index"] = result.metrics.get(key, np.nan)
        rows[method] = row
    return pd.DataFrame(rows).T

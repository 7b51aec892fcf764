"""Data tier: the baselines on the full CDNOW master data, as_of 1997-09-30 (SPEC benchmark).

The product contract quotes Pareto/NBD ROC AUC 0.783 (30 days) and 0.771 (90 days) with Brier
0.0615 and 0.1172 on this split, and BG/NBD 0.779 and 0.769. This code reproduces the Pareto/NBD
figures with P(buy within h). The BG/NBD figures are those of ranking by expected purchases in
h days; ranking by BG/NBD's P(buy within h) measures 0.777 and 0.764 (Brier 0.0615, 0.1174).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from features.tables import read_orders
from models.baselines import (
    BetaGeoModel,
    MedianIntervalRule,
    ParetoNBDModel,
    RecencyRank,
    customer_summary,
    days_until_next_purchase,
)

from .conftest import DATA  # type: ignore[import-not-found]

pytestmark = pytest.mark.slow

AS_OF, TRAIN_AS_OF = "1997-09-30", "1997-06-30"


@pytest.fixture(scope="module")
def cdnow() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    orders = read_orders(DATA / "cdnow_master.csv")
    summary = customer_summary(orders, AS_OF)
    train = customer_summary(orders, TRAIN_AS_OF)
    return (
        summary,
        days_until_next_purchase(orders, AS_OF, summary.index),
        train,
        days_until_next_purchase(orders, TRAIN_AS_OF, train.index),
    )


def _bought(waited: pd.Series, horizon: int) -> np.ndarray:
    return (waited.fillna(np.inf) <= horizon).to_numpy()


def test_pareto_nbd_matches_the_benchmark(cdnow: tuple) -> None:
    summary, waited, _, _ = cdnow
    assert len(summary) == 23_570
    model = ParetoNBDModel().fit(summary["frequency"], summary["recency"], summary["T"])
    for horizon, auc, brier in ((30, 0.783, 0.0615), (90, 0.771, 0.1172)):
        p = model.probability_of_purchase(
            horizon, summary["frequency"], summary["recency"], summary["T"]
        )
        assert round(roc_auc_score(_bought(waited, horizon), p), 3) == auc
        assert round(brier_score_loss(_bought(waited, horizon), p), 4) == brier


def test_bg_nbd_matches_the_benchmark(cdnow: tuple) -> None:
    summary, waited, _, _ = cdnow
    history = (summary["frequency"], summary["recency"], summary["T"])
    model = BetaGeoModel().fit(*history)
    for horizon, auc in ((30, 0.779), (90, 0.769)):
        bought = _bought(waited, horizon)
        assert round(roc_auc_score(bought, model.expected_purchases(horizon, *history)), 3) == auc
        p_buy = model.probability_of_purchase(horizon, *history)
        assert roc_auc_score(bought, p_buy) > auc - 0.01
        assert brier_score_loss(bought, p_buy) < 0.12


def test_heuristics_are_informative_and_calibrated(cdnow: tuple) -> None:
    summary, waited, train, train_waited = cdnow
    recency = RecencyRank(horizons=(30, 90)).fit(train["days_since_last_purchase"], train_waited)
    interval = MedianIntervalRule(horizons=(30, 90)).fit(
        train["days_since_last_purchase"], train["median_interval_days"], train_waited
    )
    for horizon in (30, 90):
        bought = _bought(waited, horizon)
        p_recency = recency.predict_proba(summary["days_since_last_purchase"], horizon)
        p_interval = interval.predict_proba(
            summary["days_since_last_purchase"], summary["median_interval_days"], horizon
        )
        for p in (p_recency, p_interval):
            assert roc_auc_score(bought, p) > 0.65
            # Calibrated on an earlier snapshot, the mean forecast is near the observed rate.
            assert abs(p.mean() - bought.mean()) < 0.05

"""A shop younger than the longest horizon still trains, scores and backtests: what its
history cannot teach comes from BG/NBD and Pareto/NBD, and the backtest says so."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.booster import AnchorClassifier, SliceCalibratedClassifier
from models.value import ExpectedPurchasesValue
from training.backtest import headline_table, run_backtest
from training.report import render_report

from .conftest import SHOP_START

YOUNG_AS_OF = SHOP_START + pd.Timedelta(days=75)  # 75 days of orders


def test_a_shop_younger_than_90_days_backtests_with_btyd_where_history_is_short(
    shop_orders: pd.DataFrame,
) -> None:
    result = run_backtest(shop_orders, YOUNG_AS_OF)

    assert result.trained is not None
    model = result.trained.model
    assert isinstance(model.timing_[7], SliceCalibratedClassifier)
    assert isinstance(model.timing_[90], AnchorClassifier)  # no 90-day label before as_of
    assert isinstance(model.value_, ExpectedPurchasesValue)
    customers = result.customers
    expected = np.clip(
        customers["bgnbd_expected_90d"] * 365 / 90
        * customers["revenue_total"] / customers["n_purchase_days"],
        0, None,
    )  # fmt: skip
    np.testing.assert_allclose(result.predictions["model"]["predicted_value_365d"], expected)

    assert set(result.predictions) == {"model", "bg_nbd", "pareto_nbd"}
    assert any("left out" in note for note in result.notes)
    assert any("BG/NBD's expected purchases" in note for note in result.notes)
    assert result.metrics["model.p_buy_30d.roc_auc"] > 0.5
    assert list(headline_table(result).index) == ["model", "bg_nbd", "pareto_nbd"]
    html = render_report(result)  # every table and chart without the missing baselines
    assert "<th>pareto_nbd</th>" in html and "<th>recency_rank</th>" not in html


def test_expected_purchases_value_is_zero_where_inputs_are_missing() -> None:
    frame = pd.DataFrame(
        {
            "bgnbd_expected_90d": [0.9, np.nan, 0.5],
            "revenue_total": [120.0, 50.0, 80.0],
            "n_purchase_days": [3.0, 1.0, 0.0],
        }
    )
    value = ExpectedPurchasesValue().fit(frame).predict(frame)
    np.testing.assert_allclose(value, [0.9 * 365 / 90 * 40.0, 0.0, 0.0])

"""`scoring_features` (BTYD columns once per distinct history) equals `TrainedModel.features`."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from models.btyd_features import BTYD_FEATURES
from training.predict import scoring_features
from training.train import TrainedModel

from .conftest import SHOP_AS_OF


def test_scoring_features_equal_the_model_features_exactly(
    small_trained_model: TrainedModel, shop_orders: pd.DataFrame
) -> None:
    expected = small_trained_model.features(shop_orders, SHOP_AS_OF)
    features = scoring_features(small_trained_model, shop_orders, SHOP_AS_OF)

    histories = expected[["frequency", "recency", "T"]].drop_duplicates()
    assert len(histories) < len(expected)  # shared histories: the saving is real here
    assert expected[list(BTYD_FEATURES)].notna().any().all()
    pd.testing.assert_frame_equal(features, expected, check_exact=True)


def test_histories_met_before_are_not_computed_again(
    small_trained_model: TrainedModel, shop_orders: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch scores partition after partition with one model: the BTYD columns of a
    history seen in an earlier partition are reused, and equal a fresh computation."""
    import training.predict as predict

    computed: list[int] = []
    add = predict.add_btyd_features

    def counted(frame: pd.DataFrame, params: object) -> pd.DataFrame:
        computed.append(len(frame))
        return add(frame, params)  # type: ignore[arg-type]

    monkeypatch.setattr(predict, "add_btyd_features", counted)
    model = copy.copy(small_trained_model)  # a fresh object: nothing known yet
    ids = shop_orders["customer_id"].drop_duplicates()
    halves = [shop_orders[shop_orders["customer_id"].isin(ids.iloc[i::2])] for i in (0, 1)]
    for orders in (halves[0], halves[1], halves[0]):
        computed.clear()
        features = scoring_features(model, orders, SHOP_AS_OF)
        expected = small_trained_model.features(orders, SHOP_AS_OF)
        pd.testing.assert_frame_equal(features, expected, check_exact=True)
        new = sum(computed)
        distinct = len(expected[["frequency", "recency", "T"]].drop_duplicates())
        assert new <= distinct
    assert new == 0  # the first half again: every history known

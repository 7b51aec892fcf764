"""`scoring_features` (BTYD columns once per distinct history) equals `TrainedModel.features`."""

from __future__ import annotations

import pandas as pd

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

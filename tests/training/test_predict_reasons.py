"""`score_frame`'s fast reasons are exactly the model's own (`RepurchaseModel.reasons`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.predict import reasons, score_frame
from training.train import TrainedModel

from .conftest import SHOP_AS_OF


def test_fast_reasons_equal_the_reference_path(
    small_trained_model: TrainedModel, shop_orders: pd.DataFrame
) -> None:
    features = small_trained_model.features(shop_orders, SHOP_AS_OF)
    model = small_trained_model.model
    X = features.reindex(columns=model.feature_columns_).astype(float)
    X = X.assign(cycle_days=features["cycle_days"], tenure_days=features["tenure_days"])

    fast = reasons(model, X)
    reference = model.reasons(X).to_numpy()

    assert len(fast) == len(features) > 100
    assert (fast == reference).all()
    assert {text.count("; ") for text in fast} == {2}  # three factors each
    scored = score_frame(small_trained_model, features, SHOP_AS_OF)
    assert np.array_equal(scored["reasons"].to_numpy(), fast)

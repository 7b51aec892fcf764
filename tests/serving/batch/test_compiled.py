"""Compiled trees predict the model's own scores (float noise only) and are compiled once."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from serving.batch.compiled import CompiledClassifier, compiled_model
from training.labels import orders_up_to
from training.predict import score_customers
from training.train import TrainedModel

from .conftest import AS_OF


def test_compiled_scores_equal_lightgbm_scores_and_are_cached(
    batch_model: TrainedModel,
    shop_orders: pd.DataFrame,
    shop_products: pd.DataFrame,
    tmp_path: Path,
) -> None:
    messages: list[str] = []
    fast = compiled_model(batch_model, tmp_path / "compiled", log=messages.append)
    assert isinstance(fast.model.timing_[30].booster_, CompiledClassifier)
    assert not isinstance(batch_model.model.timing_[30].booster_, CompiledClassifier)
    compiled = len(list((tmp_path / "compiled").glob("*.o")))
    assert compiled == len(messages) >= 6  # a booster per horizon, value (and churn, if fitted)

    history = orders_up_to(shop_orders, AS_OF)
    reference = score_customers(batch_model, history, AS_OF, shop_products)
    scores = score_customers(fast, history, AS_OF, shop_products)

    numbers = reference.select_dtypes("number").columns
    assert len(numbers) == 7
    np.testing.assert_allclose(scores[numbers], reference[numbers], rtol=1e-9, atol=1e-12)
    pd.testing.assert_frame_equal(scores.drop(columns=numbers), reference.drop(columns=numbers))

    started = time.perf_counter()
    again = compiled_model(batch_model, tmp_path / "compiled", log=messages.append)
    assert time.perf_counter() - started < 2.0  # loaded from the cache, not compiled
    assert len(messages) == compiled
    np.testing.assert_array_equal(
        again.model.predict(_features(batch_model, history, shop_products)),
        fast.model.predict(_features(batch_model, history, shop_products)),
    )


def _features(model: TrainedModel, history: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    features = model.features(history, AS_OF, products)
    return features.reindex(columns=model.model.feature_columns_).astype(float)

"""A generated sample shop on disk and a small model fitted on it, shared by the batch tests.

The model is small (few trees, few snapshots, no BTYD features): what the batch tests compare is the batch
path against the whole-file path with the same model, not the model's quality.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import joblib
import pandas as pd
import pytest

from features.tables import read_orders, read_products
from models.repurchase import RepurchaseModel
from repurchase.sample_shop import generate_shop, write_shop
from training.labels import orders_up_to
from training.train import TrainedModel, fit_model

AS_OF = dt.date(2026, 6, 30)  # orders after it exist and must be ignored


@pytest.fixture(scope="session", autouse=True)
def batch_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """REPURCHASE_HOME in a temporary folder: compiled trees and stores stay out of the repo."""
    from repurchase.settings import get_settings

    home = tmp_path_factory.mktemp("batch_home")
    patch = pytest.MonkeyPatch()
    patch.setenv("REPURCHASE_HOME", str(home))
    get_settings.cache_clear()
    yield home
    patch.undo()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def shop_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_shop(generate_shop(600, seed=3), tmp_path_factory.mktemp("batch_shop"))


@pytest.fixture(scope="session")
def shop_orders(shop_files: dict[str, Path]) -> pd.DataFrame:
    return read_orders(shop_files["orders"])


@pytest.fixture(scope="session")
def shop_products(shop_files: dict[str, Path]) -> pd.DataFrame:
    return read_products(shop_files["products"])


@pytest.fixture(scope="session")
def batch_model(shop_orders: pd.DataFrame, shop_products: pd.DataFrame) -> TrainedModel:
    return fit_model(
        orders_up_to(shop_orders, AS_OF),
        AS_OF,
        shop_products,
        step_days=45,
        max_snapshots=3,
        model=RepurchaseModel(n_estimators=30, min_child_samples=20),
        # the Pareto/NBD fits would take most of the tier's time; BTYD parameters are frozen
        # at training like the rest (checked by hand on a 3,000-customer shop)
        use_btyd_features=False,
    )


@pytest.fixture(scope="session")
def model_file(
    batch_model: TrainedModel, batch_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The model saved for `--model FILE`, its trees compiled once into the session's
    REPURCHASE_HOME (every batch run of the session, subprocesses too, finds them there)."""
    from serving.batch.compiled import compiled_model

    compiled_model(batch_model, batch_home / "compiled")
    path = tmp_path_factory.mktemp("batch_model") / "model.joblib"
    joblib.dump(batch_model, path)
    return path

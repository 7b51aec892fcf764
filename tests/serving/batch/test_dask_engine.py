"""`score_with_dask` gives exactly the single-process scores, on a local Dask cluster.

The cluster's workers are threads of this process (`processes=False`): starting worker
processes and importing the project in them costs more than this whole test; the model's trip
to separate processes is covered by the Dask training test (tests/training/test_distributed.py).
The shop is the generated sample shop (`repurchase generate`'s library function). The model
is small (few trees, few snapshots) because what is compared is the engine, not the model:
the same model must score every customer the same whether the shop is scored whole or in
customer partitions on two worker processes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd
import pytest
from dask.distributed import LocalCluster

from features.errors import InputError
from features.tables import read_orders, read_products
from models.repurchase import RepurchaseModel
from repurchase.sample_shop import generate_shop, write_shop
from serving.batch.dask_engine import _score_partition, score_with_dask
from training.predict import SCORE_COLUMNS, score_customers
from training.train import TrainedModel, fit_model


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    paths = write_shop(generate_shop(400, seed=11), tmp_path_factory.mktemp("shop"))
    return read_orders(paths["orders"]), read_products(paths["products"])


@pytest.fixture(scope="module")
def as_of(shop: tuple[pd.DataFrame, pd.DataFrame]) -> dt.date:
    return shop[0]["ordered_at"].max().date()


@pytest.fixture(scope="module")
def model(shop: tuple[pd.DataFrame, pd.DataFrame], as_of: dt.date) -> TrainedModel:
    orders, products = shop
    return fit_model(
        orders,
        as_of,
        products,
        step_days=45,
        max_snapshots=3,
        model=RepurchaseModel(n_estimators=30, min_child_samples=20),
    )


def test_scores_on_a_local_cluster_equal_the_single_process_scores(
    shop: tuple[pd.DataFrame, pd.DataFrame], as_of: dt.date, model: TrainedModel, scheduler: str
) -> None:
    orders, products = shop
    expected = score_customers(model, orders, as_of, products, model_version="7")
    expected = expected.sort_values("customer_id").reset_index(drop=True)

    # five partitions on two workers: uneven partitions, several per worker
    scores = score_with_dask(
        orders, as_of, model, products, model_version="7", scheduler=scheduler, partitions=5
    )

    assert list(scores.columns) == SCORE_COLUMNS
    assert len(scores) == orders["customer_id"].nunique() == 400
    # float noise only: the same code on the same rows, but another process
    pd.testing.assert_frame_equal(scores, expected, check_exact=False, rtol=1e-9, atol=1e-12)


def test_a_partition_whose_customers_all_start_after_as_of_scores_nobody(
    shop: tuple[pd.DataFrame, pd.DataFrame], as_of: dt.date, model: TrainedModel
) -> None:
    orders, products = shop
    layout = score_customers(model, orders, as_of, products).iloc[:0]
    first_order = orders.groupby("customer_id")["ordered_at"].transform("min")
    cutoff = pd.Timestamp(first_order.median()).date()
    newcomers = orders[first_order.dt.date > cutoff]
    assert not newcomers.empty

    scored = _score_partition(newcomers, cutoff, model, products, "7", layout)

    assert scored.empty
    assert list(scored.columns) == SCORE_COLUMNS


def test_no_paid_order_before_as_of_is_an_input_error(
    shop: tuple[pd.DataFrame, pd.DataFrame], model: TrainedModel, scheduler: str
) -> None:
    orders, products = shop
    before_shop = orders["ordered_at"].min().date() - dt.timedelta(days=1)

    with pytest.raises(InputError, match="no paid orders"):
        score_with_dask(
            orders, before_shop, model, products, model_version="7", scheduler=scheduler
        )

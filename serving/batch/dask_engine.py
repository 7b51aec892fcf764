"""Score every customer on a Dask cluster with the single-process scoring code.

The orders are hash-partitioned by ``customer_id`` (all of a customer's orders in one
partition) and :func:`training.predict.score_customers` runs on each partition through
``map_partitions``. The model is sent to every worker once (``scatter(broadcast=True)``), not
with each task. A model scores a customer from that customer's orders and its own frozen
population statistics (``feature_config``, ``btyd_params``), so the partitioned scores equal
the single-process ones.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from features.errors import InputError
from training.distributed import dask_client, has_customers, partition_by_customer, worker_count
from training.labels import as_of_day, orders_up_to
from training.predict import score_customers
from training.train import TrainedModel


def _score_partition(
    orders: pd.DataFrame,
    as_of: dt.date,
    model: TrainedModel,
    products: pd.DataFrame | None,
    model_version: str,
    empty: pd.DataFrame,
) -> pd.DataFrame:
    """The scores of one partition's customers (`empty`, the column layout, when it has none)."""
    if not has_customers(orders, as_of):
        return empty
    # the rows in their original order (the shuffle keeps the index, not the order): float
    # sums then run in the same order as in one process, and near ties between two reasons
    # break the same way
    orders = orders.sort_index(kind="stable")
    # a worker's threads share the scattered model: safe, the per-tree predictions behind
    # the reasons run on a thread-private booster (models.reasons.tree_contributions)
    return score_customers(model, orders, as_of, products, model_version=model_version)


def _layout(
    orders: pd.DataFrame,
    as_of: dt.date,
    model: TrainedModel,
    products: pd.DataFrame | None,
    model_version: str,
) -> pd.DataFrame:
    """The score columns and dtypes with no rows, from scoring the first customer alone."""
    paid = orders_up_to(orders, as_of_day(as_of))
    paid = paid[paid["status"] == "paid"]
    if paid.empty:
        raise InputError(f"no paid orders on or before {as_of}")
    first = orders[orders["customer_id"] == paid["customer_id"].iloc[0]]
    return score_customers(model, first, as_of, products, model_version=model_version).iloc[:0]


def score_with_dask(
    orders: pd.DataFrame,
    as_of: dt.date,
    model: TrainedModel,
    products: pd.DataFrame | None,
    *,
    model_version: str,
    scheduler: str | None = None,
    partitions: int | None = None,
) -> pd.DataFrame:
    """``score_customers(model, orders, as_of, products, model_version=...)`` on a cluster.

    Same rows and columns, sorted by ``customer_id``. `orders` is the canonical orders frame
    (required columns as for ``score_customers``); `scheduler` the address of a running
    scheduler (``tcp://host:8786``; None: a ``LocalCluster`` of two worker processes, closed
    afterwards); `partitions` how many customer partitions (default: two per worker).
    """
    import dask

    day = as_of_day(as_of).date()
    empty = _layout(orders, day, model, products, model_version)
    # keep object columns (dates, reasons) as they are: Dask would turn them into strings
    with dask.config.set({"dataframe.convert-string": False}), dask_client(scheduler) as client:
        count = partitions or 2 * worker_count(client)
        shared: dict[str, Any] = {
            "model": client.scatter(model, broadcast=True),
            "products": client.scatter(products, broadcast=True) if products is not None else None,
        }
        scores = (
            partition_by_customer(orders, count)
            .map_partitions(
                _score_partition,
                day,
                shared["model"],
                shared["products"],
                model_version,
                empty,
                meta=empty,
                align_dataframes=False,
            )
            .compute()
        )
    return scores.sort_values("customer_id", kind="stable").reset_index(drop=True)

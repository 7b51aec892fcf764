"""Train on a Dask cluster with the same feature and model code as :func:`training.train.fit_model`.

The orders are partitioned by ``customer_id`` (every order of a customer in one partition)
and every step runs the single-process code on the cluster:

1. each partition builds its training snapshots with :func:`build_training_frame`;
2. each cutoff's population statistics (RFM split medians, channel and category lists, shop
   pace, the cycle's SKU intervals: :func:`features.population.population_config`) are fixed
   on the whole shop from those snapshots, and each partition rebuilds its snapshots with
   them, so that every customer's features are those the local engine builds (a partition's
   own statistics would differ from the shop's);
3. each snapshot's BG/NBD and Pareto/NBD fit (on everyone known at its cutoff) and the fit
   at ``as_of`` that scoring uses run side by side on the workers;
4. the client stacks the snapshots and fits the boosters with LightGBM's own Dask estimator
   (``DaskLGBMClassifier``), one data chunk per worker. The calibrators are small and are
   fitted locally on the held-out slice, as in the local engine.

The result is a plain :class:`training.train.TrainedModel` (boosters converted with
``to_local()``): it scores, pickles and registers without a cluster. With one worker it is
the local model exactly. With more, LightGBM's data-parallel learner finds each feature's
bins on one worker's rows, so the trees are close to, not identical with, a local fit.

Limits: the training frame is gathered on the client, which picks each model's rows and fits
the calibrators; the value regressor trains locally too, because
:meth:`models.repurchase.RepurchaseModel.fit` builds it inline (only its classifiers have a
construction hook, ``_classifier``); the population statistics of step 2 read the whole
order history in one task per cutoff.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import dask
import numpy as np
import pandas as pd
from dask.distributed import Client, LocalCluster
from lightgbm.dask import DaskLGBMClassifier

from features.errors import InputError
from features.tables import paid_orders
from models.baselines.summary import customer_summary
from models.booster import SliceCalibratedClassifier
from models.btyd_features import BTYD_FEATURES, BtydParams, add_btyd_features, fit_btyd_params
from models.repurchase import HORIZONS, RepurchaseModel
from training.labels import as_of_day, orders_up_to
from training.snapshots import build_training_frame, default_feature_builder
from training.train import CHURN_DAYS, TrainedModel, model_rows

LOCAL_WORKERS = 2


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, *, workers: int = LOCAL_WORKERS) -> Iterator[Client]:
    """A client of the scheduler at `scheduler` (``tcp://host:8786``), or of a new
    ``LocalCluster`` of `workers` single-threaded processes that is closed on exit."""
    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def worker_count(client: Client) -> int:
    """How many workers the cluster has now (at least 1)."""
    return max(1, len(client.scheduler_info(n_workers=-1)["workers"]))


def partition_by_customer(orders: pd.DataFrame, partitions: int) -> Any:
    """`orders` as a Dask DataFrame of `partitions` partitions, every customer's orders in one.

    Required column: ``customer_id``. The rows are hash-shuffled on ``customer_id``, so
    per-customer feature code runs on each partition unchanged. The shuffle keeps the index
    (``0..n-1`` in the order of `orders`) but not the row order: sort a partition by its
    index to get the original order back.
    """
    import dask.dataframe as dd

    if "customer_id" not in orders:
        raise InputError("orders need a customer_id column")
    frame = dd.from_pandas(orders.reset_index(drop=True), npartitions=partitions, sort=False)
    return frame.shuffle(on="customer_id", npartitions=partitions)


def has_customers(orders: pd.DataFrame, as_of: dt.date | str | pd.Timestamp) -> bool:
    """Whether `orders` hold a paid order on or before `as_of` (the feature code's minimum)."""
    return not paid_orders(orders_up_to(orders, as_of_day(as_of))).empty


class ArrayDaskLGBMClassifier(DaskLGBMClassifier):
    """``DaskLGBMClassifier`` that takes in-memory arrays, as :class:`SliceCalibratedClassifier`
    passes them, and spreads their rows over the workers in one chunk each."""

    def fit(self, X: Any, y: Any = None, **kwargs: Any) -> ArrayDaskLGBMClassifier:  # type: ignore[override]
        """Fit on the cluster of ``self.client`` (the default client when none was given)."""
        from dask.distributed import default_client

        client = self.client if self.client is not None else default_client()
        data, label = _spread_rows(client, np.asarray(X), np.asarray(y))
        with warnings.catch_warnings():
            # the Dask estimator sets the threads per worker itself; n_jobs=1 is only for local
            warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
            super().fit(data, label, **kwargs)
        return self


def _spread_rows(client: Client, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    """`X` and `y` as Dask arrays with one row chunk per worker, each chunk on its worker
    (LightGBM trains on the workers that hold data, so the chunks must not share one)."""
    import dask.array as da

    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    size = max(1, math.ceil(len(X) / max(1, len(workers))))
    starts = range(0, len(X), size)
    x_chunks, y_chunks = [], []
    for index, start in enumerate(starts):
        worker = workers[index % len(workers)]
        x_part, y_part = X[start : start + size], y[start : start + size]
        x_future = client.scatter(x_part, workers=[worker])
        y_future = client.scatter(y_part, workers=[worker])
        x_chunks.append(da.from_delayed(x_future, shape=x_part.shape, dtype=x_part.dtype))
        y_chunks.append(da.from_delayed(y_future, shape=y_part.shape, dtype=y_part.dtype))
    return da.concatenate(x_chunks), da.concatenate(y_chunks)


class _DaskBoostedRepurchaseModel(RepurchaseModel):
    """:class:`RepurchaseModel` whose classifiers train on the Dask cluster."""

    def _classifier(
        self, columns: Sequence[str], days: int, anchor_sign: int = 1
    ) -> SliceCalibratedClassifier:
        classifier = super()._classifier(columns, days, anchor_sign)
        classifier.estimator_class = ArrayDaskLGBMClassifier
        return classifier


def _plain_model(fitted: RepurchaseModel) -> RepurchaseModel:
    """`fitted` as a plain RepurchaseModel without references to Dask classes, so that it
    unpickles (e.g. behind the API or MLflow) where Dask is not installed."""
    model = RepurchaseModel(**fitted.get_params())
    model.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")})
    for classifier in [*model.timing_.values(), model.churn_]:
        if isinstance(classifier, SliceCalibratedClassifier):  # not an AnchorClassifier
            classifier.estimator_class = None
    return model


def _partition_inputs(
    orders: pd.DataFrame,
    end: pd.Timestamp,
    products: pd.DataFrame | None,
    config: Any,
    step_days: int,
    max_snapshots: int,
    snapshot_configs: dict[pd.Timestamp, Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One partition's training snapshots (without BTYD columns), its features at `end` and
    its BTYD summary at `end`.

    `snapshot_configs`: the feature config of each cutoff (population statistics fixed on
    the whole shop); None builds each snapshot with `config`, i.e. with the partition's own
    statistics.
    """
    if not has_customers(orders, end):
        return pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    orders = orders.sort_index(kind="stable")  # original row order: see partition_by_customer
    build_features = default_feature_builder()

    def build(history: pd.DataFrame, cutoff: pd.Timestamp, goods: Any, fallback: Any) -> Any:
        chosen = (snapshot_configs or {}).get(cutoff, fallback)
        return build_features(history, cutoff, goods, chosen)

    training = build_training_frame(
        orders,
        end,
        products,
        config=config,
        step_days=step_days,
        max_snapshots=max_snapshots,
        horizons=HORIZONS,
        churn_days=CHURN_DAYS,
        feature_builder=build,
    )
    if snapshot_configs is not None:
        return training, pd.DataFrame(), pd.DataFrame()
    at_end = _features_at(orders, end, products, config)
    summary = customer_summary(orders, end)
    return training, at_end, summary


def _features_at(
    orders: pd.DataFrame, end: pd.Timestamp, products: pd.DataFrame | None, config: Any
) -> pd.DataFrame:
    """One partition's features at `end` with `config` (empty without customers by then)."""
    if not has_customers(orders, end):
        return pd.DataFrame()
    orders = orders.sort_index(kind="stable")  # original row order: see partition_by_customer
    return default_feature_builder()(orders_up_to(orders, end), end, products, config)


def _snapshot_configs(
    client: Client,
    snapshots: pd.DataFrame,
    history: Any,
    products: Any,
    config: Any,
) -> dict[pd.Timestamp, Any]:
    """Each cutoff's feature config with the whole shop's population statistics fixed
    (:func:`features.population.population_config`), computed side by side on the workers.

    `snapshots`: the stacked first-pass snapshots (``cutoff`` plus the feature columns).
    """
    from features.population import population_config

    cutoffs = [pd.Timestamp(cutoff) for cutoff in snapshots["cutoff"].unique()]
    futures = [
        client.submit(
            population_config,
            snapshots[snapshots["cutoff"] == cutoff],
            history,
            cutoff,
            products,
            config,
            pure=False,
        )
        for cutoff in cutoffs
    ]
    return dict(zip(cutoffs, client.gather(futures), strict=True))


def _stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Partition frames stacked; a share column a partition lacks (nobody there used that
    channel or category) is a share of 0, as the whole-shop frame would have it."""
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame()
    stacked = pd.concat(frames, ignore_index=True)
    shares = [c for c in stacked.columns if c.startswith(("channel_share_", "category_share_"))]
    stacked[shares] = stacked[shares].fillna(0.0)
    return stacked


def _fit_btyd_on_cluster(client: Client, summaries: list[pd.DataFrame]) -> list[BtydParams]:
    """:func:`fit_btyd_params` on each summary (``frequency``, ``recency``, ``T`` of one
    population), the fits running side by side on the workers."""
    futures = [
        client.submit(
            fit_btyd_params,
            summary["frequency"].to_numpy(dtype=float),
            summary["recency"].to_numpy(dtype=float),
            summary["T"].to_numpy(dtype=float),
            pure=False,
        )
        for summary in summaries
    ]
    return list(client.gather(futures))


def _with_btyd_columns(training: pd.DataFrame, params: list[BtydParams]) -> pd.DataFrame:
    """`training` (snapshots newest first) plus the BTYD columns of each snapshot's fit,
    placed before the labels as :func:`build_training_frame` places them."""
    parts = [
        add_btyd_features(snapshot[["frequency", "recency", "T"]], fitted)[list(BTYD_FEATURES)]
        for (_, snapshot), fitted in zip(
            training.groupby("cutoff", sort=False), params, strict=True
        )
    ]
    btyd = pd.concat(parts).loc[training.index]
    first_label = next(i for i, c in enumerate(training.columns) if c.startswith("label_"))
    return pd.concat([training.iloc[:, :first_label], btyd, training.iloc[:, first_label:]], axis=1)


def train_with_dask(
    orders: pd.DataFrame,
    as_of: dt.date | str | pd.Timestamp,
    products: pd.DataFrame | None = None,
    *,
    config: Any = None,
    step_days: int = 21,
    max_snapshots: int = 12,
    use_btyd_features: bool = True,
    model: RepurchaseModel | None = None,
    scheduler: str | None = None,
    partitions: int | None = None,
) -> TrainedModel:
    """:func:`training.train.fit_model` on a Dask cluster (see the module docstring).

    `orders` is the canonical frame (``features.tables.read_orders``); `model` an unfitted
    :class:`RepurchaseModel` whose settings to use (None: the defaults); `scheduler` the
    address of a running scheduler (None: a ``LocalCluster`` of two processes, closed
    afterwards); `partitions` how many customer partitions to build features in (default:
    two per worker).
    """
    from features.pipeline import model_feature_columns
    from features.population import population_config

    end = as_of_day(as_of)
    history = orders_up_to(orders, end)
    with dask_client(scheduler) as client:
        count = partitions or 2 * worker_count(client)
        shared_products = client.scatter(products, broadcast=True) if products is not None else None
        by_customer = partition_by_customer(history, count).persist()
        build = dask.delayed(_partition_inputs, pure=True)
        results = client.gather(
            client.compute(
                [
                    build(part, end, shared_products, config, step_days, max_snapshots)
                    for part in by_customer.to_delayed()
                ]
            )
        )
        first_pass = _stack([r[0] for r in results])
        if first_pass.empty:
            raise InputError(f"no paid orders early enough before {end.date()} to learn from")
        # second pass: every snapshot rebuilt with the whole shop's population statistics at
        # its cutoff, so each customer's features are those the local engine builds
        configs = _snapshot_configs(
            client, first_pass, client.scatter(history), shared_products, config
        )
        rebuilt = client.gather(
            client.compute(
                [
                    build(part, end, shared_products, config, step_days, max_snapshots, configs)
                    for part in by_customer.to_delayed()
                ]
            )
        )
        del first_pass
        training = _stack([r[0] for r in rebuilt])
        # the local engine's row order (snapshots newest first, customers sorted): the BTYD
        # fits then sum in the same order, and equal features give LightGBM equal input
        training = training.sort_values(
            ["cutoff", "customer_id"], ascending=[False, True], kind="stable"
        ).reset_index(drop=True)
        summary = pd.concat([r[2] for r in results if not r[2].empty]).sort_index()
        btyd_params = None
        if use_btyd_features:
            # one fit per snapshot on its whole population, as the local engine fits them,
            # plus the population at as_of that scoring uses
            snapshots = [snapshot for _, snapshot in training.groupby("cutoff", sort=False)]
            *snapshot_params, btyd_params = _fit_btyd_on_cluster(client, [*snapshots, summary])
            training = _with_btyd_columns(training, snapshot_params)
        label_columns = [c for c in training.columns if c.startswith("label_")]
        columns = model_feature_columns(training.drop(columns=["cutoff", *label_columns]))
        settings = model.get_params() if model is not None else {"churn_days": CHURN_DAYS}
        at_end = _stack([r[1] for r in results])
        frozen = population_config(at_end, history, end, products, config, columns)
        # the customers at as_of again, now with the whole shop's statistics (as scoring
        # builds them), in the local engine's order: the model's level at as_of reads them
        at_end = _stack(
            client.gather(
                client.compute(
                    [
                        dask.delayed(_features_at, pure=True)(part, end, shared_products, frozen)
                        for part in by_customer.to_delayed()
                    ]
                )
            )
        ).sort_values("customer_id", ignore_index=True)
        estimator = _DaskBoostedRepurchaseModel(**settings).fit(
            training[columns].astype(float),
            training[label_columns],
            training["cutoff"],
            now=model_rows(at_end, btyd_params, columns),
            as_of=end,
        )
    return TrainedModel(
        model=_plain_model(estimator),
        btyd_params=btyd_params,
        trained_as_of=end.date(),
        feature_config=frozen,
        use_btyd_features=use_btyd_features,
        snapshot_cutoffs=sorted(c.date() for c in training["cutoff"].unique()),
        n_training_rows=len(training),
    )

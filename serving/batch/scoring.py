"""Score every customer of an orders file of any size, one hash partition at a time.

:func:`score_file` is what ``repurchase score`` runs:

1. the orders file is streamed in batches (validated like :func:`features.tables.read_orders`),
   rows after ``as_of`` dropped, and spilled into hash partitions by customer
   (:mod:`serving.batch.spill`), about ``partition_rows`` order rows each;
2. the model is chosen (``--model``; a model fitted now learns from the whole history when it
   has at most ``fit_rows`` rows, else from a hashed sample of whole customers: the first
   partitions, said on stderr);
3. each partition is scored with :func:`training.predict.score_customers` (the model's
   boosters compiled, :mod:`serving.batch.compiled`) and appended to the output
   (:class:`serving.batch.output.StreamedTable`, renamed into place at the end), and
   optionally upserted into the store, one transaction per partition.

Peak memory is one partition's, not the file's. A model scores a customer from that
customer's orders and the population statistics it froze at training (``feature_config``,
``btyd_params``), so each customer's scores equal those of scoring the whole file at once.
Rows come grouped by partition, each sorted by ``customer_id``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa

from features.errors import InputError
from features.prompted import DEFAULT_WITHIN_DAYS, mark_prompted, prompted_days
from features.tables import drop_repeated_lines, iter_order_frames
from features.threads import prefetched
from serving.batch.compiled import compiled_model
from serving.batch.output import StreamedTable, arrow_rows
from serving.batch.progress import BatchProgress
from serving.batch.spill import (
    DEFAULT_PARTITION_ROWS,
    Partitions,
    WorkDir,
    estimate_rows,
    partition_count,
    spill_partitions,
)
from serving.batch.workers import (
    ModelParcel,
    WorkerPool,
    batch_shape,
    release_freed_memory,
    unpacked,
)
from training.labels import DAY, as_of_day

DEFAULT_FIT_ROWS = 3_000_000
# score columns with a handful of distinct values: dictionary-encoded in the Parquet file
# (measured on 171k scores: written in 0.09 s instead of 0.18 s, and 8% smaller)
LABEL_COLUMNS = ("as_of", "rfm_segment", "lifecycle_stage", "price_sensitivity", "model_version")
Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    """The default `log`: one line on stderr."""
    print(message, file=sys.stderr, flush=True)


def score_schema(horizons: tuple[int, ...] | list[int] = (7, 14, 30, 60, 90)) -> pa.Schema:
    """Parquet types of the SPEC score columns (``training.predict.SCORE_COLUMNS``)."""
    fields: list[tuple[str, pa.DataType]] = [("customer_id", pa.string()), ("as_of", pa.date32())]
    fields += [(f"p_buy_{h}d", pa.float64()) for h in horizons]
    fields += [
        ("next_purchase_date", pa.date32()),
        ("next_purchase_low", pa.date32()),
        ("next_purchase_high", pa.date32()),
        ("p_churn", pa.float64()),
        ("predicted_value_365d", pa.float64()),
        ("rfm_segment", pa.string()),
        ("lifecycle_stage", pa.string()),
        ("price_sensitivity", pa.string()),
        ("depletion_date", pa.date32()),
        ("reasons", pa.string()),
        ("model_version", pa.string()),
    ]
    return pa.schema(fields)


@dataclass(frozen=True)
class BatchResult:
    """What a batch run did, for the one-line summary."""

    customers: int
    partitions: int
    rows: int
    seconds: float
    out: Path
    model: str

    def summary(self, verb: str = "scored") -> str:
        rate = self.rows / self.seconds if self.seconds > 0 else math.inf
        return (
            f"{verb} {self.customers:,} customers in {self.partitions} partitions "
            f"({self.rows:,} order rows, {self.seconds:.1f} s, {rate:,.0f} rows/s) -> {self.out}"
        )


@contextmanager
def partitioned_orders(
    orders: Path,
    as_of: dt.date,
    target: Path,
    *,
    column_map: Mapping[str, str] | None = None,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    contacts: pd.DataFrame | None = None,
    prompted_within_days: float = DEFAULT_WITHIN_DAYS,
) -> Iterator[Partitions]:
    """The orders up to `as_of`, spilled into hash partitions in a scratch folder beside
    `target`; the folder is removed when the block ends (InputError for bad input).

    Each batch is marked from `contacts` on the way (``features.prompted``: a row's mark
    reads its own customer's touches only, so batches can be marked one at a time)."""
    n_partitions = partition_count(estimate_rows(Path(orders)), partition_rows)
    end = as_of_day(as_of) + DAY
    batch_rows = max(min(partition_rows, 1_000_000), 1_000)

    def up_to_as_of() -> Iterator[pd.DataFrame]:
        for frame in iter_order_frames(orders, column_map, batch_rows):
            visible = frame.loc[frame["ordered_at"] < end]
            yield mark_prompted(visible, contacts, prompted_within_days)

    with WorkDir(target) as work:
        # the next batch is read and validated while this one is written out
        parts = spill_partitions(prefetched(up_to_as_of()), work, n_partitions)
        if len(parts) == 0:
            raise InputError(f"no orders on or before {as_of}", path=orders)
        release_freed_memory()  # the spill's batches: more than this process holds later
        yield parts


@contextmanager
def batch_run(
    orders: Path,
    as_of: dt.date,
    target: Path,
    *,
    column_map: Mapping[str, str] | None,
    partition_rows: int | None,
    workers: int,
    log: Log,
    contacts: pd.DataFrame | None = None,
    feature_config: Any = None,
) -> Iterator[tuple[Partitions, WorkerPool]]:
    """A batch run's partitions (:func:`partitioned_orders`) and worker pool, sized by
    :func:`serving.batch.workers.batch_shape`; the pool starts first, so that its processes
    start up during the spill. Logs the run's first line: what it scores, and where."""
    partition_rows, workers = batch_shape(orders, partition_rows, workers)
    with (
        WorkerPool(workers) as pool,
        partitioned_orders(
            orders,
            as_of,
            target,
            column_map=column_map,
            partition_rows=partition_rows,
            contacts=contacts,
            prompted_within_days=prompted_days(feature_config),
        ) as parts,
    ):
        where = f", {pool.workers} worker processes" if pool.running else ""
        log(f"{parts.total_rows:,} order rows up to {as_of} in {len(parts)} partitions{where}")
        yield parts, pool


def read_partition(parts: Partitions, index: int) -> pd.DataFrame:
    """One partition's canonical orders, repeated order lines dropped."""
    return drop_repeated_lines(parts.read(index))


def training_history(parts: Partitions, fit_rows: int, log: Log = stderr_log) -> pd.DataFrame:
    """The orders a model fitted now learns from: all of them when there are at most
    `fit_rows`, else whole partitions (a hashed sample of customers) up to about that many."""
    chosen: list[int] = []
    rows = 0
    for index, count in enumerate(parts.rows):
        if chosen and rows + count > fit_rows:
            break
        chosen.append(index)
        rows += count
    if len(chosen) < len(parts):
        log(
            f"fitting on a hashed sample: {len(chosen)} of {len(parts)} partitions "
            f"({rows:,} of {parts.total_rows:,} order rows; --fit-rows {fit_rows:,})"
        )
    return pd.concat([read_partition(parts, i) for i in chosen], ignore_index=True)


def has_paid_customers(orders: pd.DataFrame) -> bool:
    """Whether a partition has anyone to score (a paid order; rows are up to as_of)."""
    return bool((orders["status"] == "paid").any())


class AfterScoring(Protocol):
    """Work on one partition's scores and orders, done where the partition was scored (a
    worker process with workers): e.g. drafting its plan. Must pickle, to reach a worker."""

    def __call__(self, scores: pd.DataFrame, orders: pd.DataFrame) -> Any: ...


def score_partitions(
    parts: Partitions,
    chosen: ScoringModel,
    as_of: dt.date,
    *,
    on_scores: Callable[[int, pa.Table, Any], None],
    description: str = "scoring",
    pool: WorkerPool | None = None,
    after: Callable[[int], AfterScoring] | None = None,
) -> tuple[int, float]:
    """Score each partition and hand its number, scores (an Arrow table of
    :func:`score_schema`, what the score file holds) and ``after(number)(scores, orders)``
    (None without `after`, which gets the scores as a frame) to `on_scores`, in partition
    order.

    With a running `pool` the partitions are scored (and `after` run) in its worker
    processes, as many at a time as it has workers; the results still reach `on_scores` in
    partition order, so the output is the one-process output. Returns the number of
    customers scored and the seconds taken.
    """
    customers = 0
    with BatchProgress(description, len(parts)) as bar:
        for index, result in _scored(parts, chosen, as_of, pool, after):
            if result is not None:
                scores, extra = result
                on_scores(parts.numbers[index], scores, extra)
                customers += len(scores)
            bar.advance(parts.rows[index])
    if customers == 0:
        raise InputError(f"no paid orders on or before {as_of}")
    return customers, bar.seconds


# a partition's scores (score_schema) and after-work (None: nobody to score)
Scored = tuple[pa.Table, Any] | None


def _scored(
    parts: Partitions,
    chosen: ScoringModel,
    as_of: dt.date,
    pool: WorkerPool | None,
    after: Callable[[int], AfterScoring] | None,
) -> Iterator[tuple[int, Scored]]:
    """Each partition's index and result, in partition order."""

    schema = chosen_schema(chosen)

    def task(index: int) -> tuple[Any, ...]:
        job = after(parts.numbers[index]) if after is not None else None
        return (parts, index, as_of, chosen.products, chosen.version, job, schema)

    if pool is None or not pool.running or len(parts) <= 1:
        for index in range(len(parts)):
            yield index, _score_partition(chosen.model, *task(index))
        return
    # Workers get the model as chosen (it pickles) and compile it themselves from the
    # compiled-trees cache this process has just filled.
    parcel = ModelParcel.of(chosen.original, compile_trees=chosen.model is not chosen.original)
    # At most `workers` partitions in flight beyond the one being handed over, so finished
    # scores never pile up in this process.
    pending: dict[int, Any] = {}
    next_index = 0
    for index in range(len(parts)):
        while next_index < len(parts) and len(pending) <= pool.workers:
            pending[next_index] = pool.submit(_score_in_worker, parcel, *task(next_index))
            next_index += 1
        yield index, pending.pop(index).result()


def _score_partition(
    model: Any,
    parts: Partitions,
    index: int,
    as_of: dt.date,
    products: pd.DataFrame | None,
    model_version: str,
    after: AfterScoring | None,
    schema: pa.Schema,
) -> Scored:
    """One partition's scores (as a table of `schema`: see
    :func:`serving.batch.output.arrow_rows`) and `after`'s result on them."""
    from training.predict import score_customers

    orders = read_partition(parts, index)
    if not has_paid_customers(orders):
        return None
    scores = score_customers(model, orders, as_of, products, model_version=model_version)
    extra = after(scores, orders) if after is not None else None
    return arrow_rows(scores, schema), extra


def _score_in_worker(parcel: ModelParcel, *task: Any) -> Scored:
    return _score_partition(unpacked(parcel), *task)


@dataclass(frozen=True)
class ScoringModel:
    """The model a batch scores with (``repurchase.model_choice.ChosenModel`` fields);
    `original` is the chosen model itself when `model` is its compiled copy."""

    model: Any
    products: pd.DataFrame | None
    version: str
    why: str
    original: Any = None


def needs_history(choice: str) -> bool:
    """Whether ``--model`` `choice` may fit a model on the orders (``auto``, ``fit``): any
    other choice is a saved or registered model, chosen (and refused) before the orders are
    read."""
    from repurchase.model_choice import AUTO, FIT_NOW

    return choice in (AUTO, FIT_NOW)


def chosen_before_reading(
    choice: str,
    as_of: dt.date,
    products: pd.DataFrame | None,
    feature_config: Any = None,
    *,
    compile_trees: bool = True,
    log: Log = stderr_log,
) -> ScoringModel | None:
    """:func:`choose_batch_model` for a saved or registered model, which needs no orders:
    loaded (or refused, e.g. trained after `as_of`) before the orders are read and spilled.
    None for ``auto`` and ``fit``, which may fit on the orders and are chosen after."""
    if needs_history(choice):
        return None
    return choose_batch_model(
        choice, as_of, None, products, feature_config, compile_trees=compile_trees, log=log
    )


def choose_batch_model(
    choice: str,
    as_of: dt.date,
    parts: Partitions | None,
    products: pd.DataFrame | None,
    feature_config: Any = None,
    *,
    fit_rows: int = DEFAULT_FIT_ROWS,
    compile_trees: bool = True,
    log: Log = stderr_log,
) -> ScoringModel:
    """Resolve ``--model`` as :func:`repurchase.model_choice.choose_model` does; the history
    a fitted model needs is read from the partitions only when it may be needed
    (:func:`needs_history`; `parts` may be None otherwise). With `compile_trees` its
    boosters predict through compiled code (:func:`serving.batch.compiled.compiled_model`:
    the same scores, faster)."""
    from repurchase.model_choice import choose_model
    from repurchase.settings import get_settings

    if needs_history(choice):
        if parts is None:
            raise ValueError(f"--model {choice} needs the partitioned orders")
        history = training_history(parts, fit_rows, log)
    else:
        history = pd.DataFrame()  # a saved or registered model: never fitted here
    chosen = choose_model(choice, as_of, history, products, get_settings(), feature_config)
    del history
    model = compiled_model(chosen.model, log=log) if compile_trees else chosen.model
    frozen = getattr(chosen.model, "feature_config", None)
    if frozen is None or getattr(frozen, "cycle_sku_intervals", None) is None:
        log(
            "note: this model was saved before the cycle fallbacks were frozen at training; "
            "a customer's cycle may differ slightly from scoring the whole file at once"
        )
    return ScoringModel(model, chosen.products, chosen.version, chosen.why, chosen.model)


def score_file(
    orders: Path,
    as_of: dt.date,
    out: Path,
    *,
    model: str,
    products: pd.DataFrame | None = None,
    column_map: Mapping[str, str] | None = None,
    feature_config: Any = None,
    partition_rows: int | None = None,
    fit_rows: int = DEFAULT_FIT_ROWS,
    store_url: str | None = None,
    save_model: Callable[[Any], None] | None = None,
    compile_trees: bool = True,
    workers: int = 1,
    log: Log = stderr_log,
    contacts: pd.DataFrame | None = None,
) -> BatchResult:
    """Score every customer of the `orders` file at `as_of` into `out` (see module docstring).

    `model` is a ``--model`` choice; `contacts` a touch history that marks prompted
    purchases (``features.prompted``); `store_url` a database URL to upsert the scores into
    (one transaction per partition; re-running updates the same rows); `workers` processes
    score partitions side by side (:mod:`serving.batch.workers`; 0 is one per core on a large
    file, what the CLI does; spawned workers import the caller's main module, which must
    then be guarded by ``if __name__ == "__main__"``); `partition_rows` None divides
    ``ROWS_IN_FLIGHT`` among them.
    """
    started = time.perf_counter()
    early = chosen_before_reading(
        model, as_of, products, feature_config, compile_trees=compile_trees, log=log
    )
    with batch_run(
        orders, as_of, out, column_map=column_map, partition_rows=partition_rows,
        workers=workers, log=log, contacts=contacts, feature_config=feature_config,
    ) as (parts, pool):  # fmt: skip
        chosen = early or choose_batch_model(
            model, as_of, parts, products, feature_config, fit_rows=fit_rows,
            compile_trees=compile_trees, log=log,
        )  # fmt: skip
        log(f"model: {chosen.why}")
        if save_model is not None:
            save_model(chosen.original)
        with score_sink(out, chosen, store_url) as keep:

            def write(_number: int, scores: pa.Table, _extra: None) -> None:
                keep(scores)

            customers, _ = score_partitions(parts, chosen, as_of, on_scores=write, pool=pool)
    return BatchResult(
        customers, len(parts), parts.total_rows, time.perf_counter() - started, out, chosen.why
    )


def chosen_schema(chosen: ScoringModel) -> pa.Schema:
    """The score file's schema for the chosen model's horizons."""
    return score_schema(tuple(getattr(chosen.model.model, "horizons", (7, 14, 30, 60, 90))))


@contextlib.contextmanager
def score_sink(
    out: Path, chosen: ScoringModel, store_url: str | None
) -> Iterator[Callable[[pa.Table], None]]:
    """A function keeping one partition's scores (from :func:`score_partitions`): appended
    to the score file `out` (renamed into place when the block ends without error) and,
    with `store_url`, upserted into the store."""
    store = store_writer(store_url)
    with StreamedTable(out, chosen_schema(chosen), dictionary=LABEL_COLUMNS) as table:

        def keep(scores: pa.Table) -> None:
            table.write(scores)
            if store is not None:
                store(scores.to_pandas())

        yield keep


def store_writer(store_url: str | None) -> Callable[[pd.DataFrame], None] | None:
    """A function upserting one partition's scores in one transaction (None: no store)."""
    if store_url is None:
        return None
    from serving.store import repository
    from serving.store.db import make_engine, make_session_factory, migrate

    engine = make_engine(store_url)
    migrate(engine)
    sessions = make_session_factory(engine)
    scored_at = dt.datetime.now(dt.UTC)  # when, not as-of: the store's audit column

    def upsert(scores: pd.DataFrame) -> None:
        with sessions.begin() as session:
            repository.save_scores(session, scores, scored_at=scored_at)

    return upsert

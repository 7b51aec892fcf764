"""Plan every customer of an orders file of any size, with capacity applied globally.

:func:`plan_file` is what ``repurchase plan`` runs. Daily capacity per channel is shared by
all customers (highest priority first), so the plan cannot be cut into independent pieces.
It is built in two passes that give exactly the whole-file plan:

1. per hash partition (:mod:`serving.batch.scoring`): score it (or take its rows of a score
   file) and draft its plan (:func:`serving.policy.planner.draft_plan`: every contact the
   plan can hold, before capacity). A customer's draft depends only on their own scores,
   orders, consent and touches, and capacity only moves or drops contacts, never adds one;
2. the drafts combined (rows renumbered in customer_id order over all of them: the
   capacity ranking's tie-breaker) and finished once
   (:func:`serving.policy.planner.finish_plan`: capacity, then the plan's columns).

Peak memory is one partition's scoring, or the drafts and the plan text, whichever is larger.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from features.errors import InputError
from serving.batch.output import check_output, write_table
from serving.batch.progress import BatchProgress
from serving.batch.scoring import (
    DEFAULT_FIT_ROWS,
    BatchResult,
    Log,
    ScoringModel,
    batch_run,
    choose_batch_model,
    chosen_before_reading,
    read_partition,
    score_partitions,
    score_sink,
    stderr_log,
)
from serving.batch.spill import Partitions, partition_of
from serving.batch.workers import WorkerPool

# plan columns with few distinct values, dictionary-encoded in the Parquet file (1.59M plan
# rows: written in 0.5 s instead of 1.0 s)
PLAN_LABEL_COLUMNS = ("contact_on", "send_at", "channel", "action", "offer", "holdout")


@dataclass(frozen=True)
class PlanResult:
    """The plan written, how many customers were scored and what the run took."""

    plan: pd.DataFrame
    batch: BatchResult


class _Candidates:
    """Per partition: its draft plan (every contact it can hold, before capacity); at the
    end, capacity over all drafts at once and the plan's columns."""

    def __init__(self, as_of: dt.date, policy: Any, customers: Any, contacts: Any) -> None:
        self.as_of = as_of
        self.policy = policy
        self.customers = customers
        self.contacts = contacts
        self.drafts: list[Any] = []
        self.n_scored = 0

    def drafter(self, number: int) -> _Drafter:
        """What drafts partition `number`'s plan, wherever it is scored."""
        return _Drafter(
            self.as_of, self.policy, self.customers.rows(number), self.contacts.rows(number)
        )

    def add(self, _number: int, scores: pd.DataFrame | pa.Table, draft: Any) -> None:
        """Keep one partition's draft (from its :meth:`drafter`)."""
        self.n_scored += len(scores)
        self.drafts.append(draft)

    def plan(self) -> pd.DataFrame:
        """The final plan over every draft, capacity included."""
        from serving.policy.planner import combine_drafts, finish_plan

        if not self.drafts:
            from serving.policy import PLAN_COLUMNS

            return pd.DataFrame(columns=PLAN_COLUMNS)
        draft = combine_drafts(self.drafts)
        self.drafts = []
        return finish_plan(draft, as_of=self.as_of, policy=self.policy)


@dataclass(frozen=True)
class _Drafter:
    """Drafts one partition's plan from its scores and orders; holds only that partition's
    customers and contacts, so it is small to send to a worker process."""

    as_of: dt.date
    policy: Any
    customers: pd.DataFrame | None
    contacts: pd.DataFrame | None

    def __call__(self, scores: pd.DataFrame, orders: pd.DataFrame) -> Any:
        from serving.policy.planner import draft_plan

        return draft_plan(
            scores,
            as_of=self.as_of,
            orders=orders,
            customers=self.customers,
            contacts=self.contacts,
            policy=self.policy,
        )


class _ByPartition:
    """A per-customer table (customers, contacts, scores) split by customer partition."""

    def __init__(self, frame: pd.DataFrame | None, n_partitions: int) -> None:
        self.frame = frame
        self.groups: dict[int, pd.DataFrame] = {}
        if frame is not None:
            part = partition_of(frame["customer_id"], n_partitions)
            for number in np.unique(part).tolist():
                self.groups[number] = frame.loc[part == number]

    def rows(self, number: int) -> pd.DataFrame | None:
        if self.frame is None:
            return None
        return self.groups.get(number, self.frame.iloc[:0])


def plan_file(
    orders: Path,
    as_of: dt.date,
    out: Path,
    *,
    policy: Any,
    model: str,
    scores: pd.DataFrame | Path | None = None,
    products: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    column_map: Mapping[str, str] | None = None,
    feature_config: Any = None,
    partition_rows: int | None = None,
    fit_rows: int = DEFAULT_FIT_ROWS,
    store_url: str | None = None,
    compile_trees: bool = True,
    workers: int = 1,
    scores_out: Path | None = None,
    log: Log = stderr_log,
) -> PlanResult:
    """The contact plan from `as_of` for every customer of the `orders` file, into `out`.

    `scores`: a score table (``serving.policy.scores.read_scores``), or a score file's path:
    read here with only the planner's columns and let go once drafted (a table of millions
    of customers is a gigabyte the final pass does not need); None scores the partitions
    with the model `model` chooses. `scores_out` (only when scoring here) also writes those
    scores, the file ``repurchase score`` would write, in the same pass: the nightly job
    in one read of the orders (with `store_url`, the scores are stored too).
    `customers`/`contacts` as read by ``read_customers``/``read_contacts``. `workers`,
    `partition_rows` as for :func:`serving.batch.scoring.score_file` (scoring and drafting
    run in the workers). Equal to ``build_plan`` on the whole file.
    """
    check_output(out)
    if scores_out is not None:
        if scores is not None:
            raise InputError("--scores-out writes the scores computed here; drop --scores")
        check_output(scores_out)
    started = time.perf_counter()
    if isinstance(scores, Path):
        from serving.policy.scores import read_scores

        scores = read_scores(scores, _planner_columns())
    if scores is not None:  # only what the planner reads: a score table is wide
        scores = scores.reindex(columns=_planner_columns())
    early = (
        chosen_before_reading(
            model, as_of, products, feature_config, compile_trees=compile_trees, log=log
        )
        if scores is None
        else None
    )
    with batch_run(
        orders, as_of, out, column_map=column_map, partition_rows=partition_rows,
        # with a score file nothing is scored here: drafting alone is not worth processes
        workers=workers if scores is None else 1, log=log,
        contacts=contacts, feature_config=feature_config,
    ) as (parts, pool):  # fmt: skip
        candidates = _Candidates(
            as_of,
            policy,
            _ByPartition(customers, parts.n_partitions),
            _ByPartition(contacts, parts.n_partitions),
        )
        if scores is None:
            chosen = early or choose_batch_model(
                model, as_of, parts, products, feature_config, fit_rows=fit_rows,
                compile_trees=compile_trees, log=log,
            )  # fmt: skip
            log(f"no --scores given; scoring with {chosen.why}")
            _score_and_draft(parts, chosen, as_of, candidates, pool, scores_out, store_url)
        else:
            _draft_from_scores(parts, scores, candidates)
            scores = None  # the drafts hold what the final pass needs
    plan = candidates.plan()
    write_table(plan, out, dictionary=PLAN_LABEL_COLUMNS)
    if store_url is not None:
        _store_plan(store_url, plan, as_of)
    seconds = time.perf_counter() - started
    batch = BatchResult(candidates.n_scored, len(parts), parts.total_rows, seconds, out, model)
    return PlanResult(plan, batch)


def _score_and_draft(
    parts: Partitions,
    chosen: ScoringModel,
    as_of: dt.date,
    candidates: _Candidates,
    pool: WorkerPool,
    scores_out: Path | None,
    store_url: str | None,
) -> None:
    """Pass 1 without a score file: score each partition and draft its plan (both in the
    worker that scores it); with `scores_out`, its scores are also appended to that file
    (and upserted with `store_url`), renamed into place once every partition is written."""
    if scores_out is None:
        score_partitions(
            parts, chosen, as_of, on_scores=candidates.add, description="scoring and drafting",
            pool=pool, after=candidates.drafter,
        )  # fmt: skip
        return
    with score_sink(scores_out, chosen, store_url) as keep:

        def keep_and_add(number: int, scores: pa.Table, draft: Any) -> None:
            keep(scores)
            candidates.add(number, scores, draft)

        score_partitions(
            parts, chosen, as_of, on_scores=keep_and_add, description="scoring and drafting",
            pool=pool, after=candidates.drafter,
        )  # fmt: skip


def _planner_columns() -> list[str]:
    from serving.policy.planner import SCORE_COLUMNS_USED

    return [*SCORE_COLUMNS_USED, "reasons"]


def _draft_from_scores(parts: Partitions, scores: pd.DataFrame, candidates: _Candidates) -> None:
    """Pass 1 with a score file: its rows split by the orders' partitions (each group is
    let go once drafted, so the split copy never holds more than the table)."""
    by_part = _ByPartition(scores, parts.n_partitions)
    by_part.frame = None
    if not by_part.groups:
        raise InputError("the score table has no rows")
    index_of = {number: i for i, number in enumerate(parts.numbers)}
    empty_orders = read_partition(parts, 0).iloc[:0]
    with BatchProgress("drafting", len(by_part.groups)) as bar:
        for number in sorted(by_part.groups):
            group = by_part.groups.pop(number)
            index = index_of.get(number)
            orders = read_partition(parts, index) if index is not None else empty_orders
            candidates.add(number, group, candidates.drafter(number)(group, orders))
            del group
            bar.advance(parts.rows[index] if index is not None else 0)


def _store_plan(store_url: str, plan: pd.DataFrame, as_of: dt.date) -> None:
    """Replace the stored plan with this one, in one transaction (re-runs replace it again)."""
    from serving.store import repository
    from serving.store.db import make_engine, make_session_factory, migrate

    engine = make_engine(store_url)
    migrate(engine)
    with make_session_factory(engine).begin() as session:
        repository.replace_plan(session, plan, as_of=as_of, planned_at=dt.datetime.now(dt.UTC))


def summary_line(result: PlanResult) -> str:
    """One line: customers, partitions, seconds."""
    return result.batch.summary("planned")

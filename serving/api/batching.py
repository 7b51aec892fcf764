"""Score concurrent requests together: one model call for many small histories.

Scoring one customer costs about as much as scoring fifty: the time goes to fixed pandas and
LightGBM overhead per call, not to the rows. So instead of every request calling the model,
requests queue here and a few worker threads (one per scoring slot) each take everything
waiting, up to `max_batch` requests, and score it in one call. Under light load a worker
finds one request and scores it at once (no added wait); under load the queue fills while
the workers are busy and batches form by themselves.

Correctness rests on two facts: a customer's scores depend only on their own orders (the
model freezes every population statistic at training, see `features.population`), and
each request's customer ids are prefixed with the request's slot in the batch, so two
requests sending the same customer id stay apart. If a batch fails (say one request holds
orders the model rejects), its requests are scored one by one, so the error stays with the
request that caused it.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

SEPARATOR = "\x1f"  # ASCII unit separator: not in any real customer id

# (model, orders, as_of) -> scores, one row per customer of `orders`
ScoreFunction = Callable[[Any, pd.DataFrame, dt.date], pd.DataFrame]


@dataclass
class _Request:
    model: Any
    orders: pd.DataFrame
    as_of: dt.date
    result: Future[pd.DataFrame] = field(default_factory=Future)


class ScoreBatcher:
    """Queue of scoring requests served by `workers` threads in batches of <= `max_batch`."""

    def __init__(self, score: ScoreFunction, *, workers: int, max_batch: int = 64) -> None:
        self._score = score
        self._workers = max(1, workers)
        self._max_batch = max(1, max_batch)
        self._queue: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._started = False
        self._start_lock = threading.Lock()

    def score(self, model: Any, orders: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
        """Scores of the customers in `orders`, computed in whatever batch comes next."""
        self._start()
        request = _Request(model, orders, as_of)
        self._queue.put(request)
        return request.result.result()

    def _start(self) -> None:
        if self._started:
            return
        with self._start_lock:
            if not self._started:
                for number in range(self._workers):
                    name = f"score-batcher-{number}"
                    threading.Thread(target=self._work, name=name, daemon=True).start()
                self._started = True

    def _work(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            groups: dict[tuple[int, dt.date], list[_Request]] = {}
            for request in batch:
                groups.setdefault((id(request.model), request.as_of), []).append(request)
            for requests in groups.values():
                self._serve(requests)

    def _serve(self, requests: list[_Request]) -> None:
        if len(requests) == 1:
            self._serve_one(requests[0])
            return
        try:
            parts = self._score_together(requests)
        except Exception:
            for request in requests:  # keep each error with the request that caused it
                self._serve_one(request)
            return
        for request, part in zip(requests, parts, strict=True):
            request.result.set_result(part)

    def _serve_one(self, request: _Request) -> None:
        try:
            request.result.set_result(self._score(request.model, request.orders, request.as_of))
        except Exception as exc:
            request.result.set_exception(exc)

    def _score_together(self, requests: list[_Request]) -> list[pd.DataFrame]:
        first = requests[0]
        combined = pd.concat(
            [
                r.orders.assign(customer_id=f"{slot}{SEPARATOR}" + r.orders["customer_id"])
                for slot, r in enumerate(requests)
            ],
            ignore_index=True,
        )
        scores = self._score(first.model, combined, first.as_of)
        slot_and_id = scores["customer_id"].astype(str).str.split(SEPARATOR, n=1, expand=True)
        slots = slot_and_id[0].astype(int).to_numpy()
        scores = scores.assign(customer_id=slot_and_id[1].astype(scores["customer_id"].dtype))
        return [scores.loc[slots == slot].reset_index(drop=True) for slot in range(len(requests))]

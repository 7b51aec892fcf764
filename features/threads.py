"""Thread pools that only big inputs get.

numpy and Arrow release the GIL in their kernels, so the feature build runs independent
steps on threads for millions of rows. For the small frames of an API request the threads
cost more than they save (starting four threads and handing results over took ~5 ms of a
~30 ms build for 32 customers), so below ``PARALLEL_MIN_ROWS`` the same code runs inline.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

# Below this many rows a second thread costs more than it saves.
PARALLEL_MIN_ROWS = 200_000

P = ParamSpec("P")
T = TypeVar("T")


class InlineExecutor(Executor):
    """An executor that runs each task in the caller's thread when it is submitted."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed over like a pool's: raised by result()
            future.set_exception(exc)
        return future


def threads_pay_off(rows: int, min_rows: int = PARALLEL_MIN_ROWS) -> bool:
    """Whether `rows` rows are worth more than one thread: at least `min_rows`, two cores."""
    return rows >= min_rows and (os.cpu_count() or 1) > 1


def pool_for(rows: int, max_workers: int, **options: Any) -> Executor:
    """A thread pool of up to `max_workers` (at most one per core) when
    :func:`threads_pay_off` for `rows`; otherwise an :class:`InlineExecutor`."""
    if not threads_pay_off(rows):
        return InlineExecutor()
    return ThreadPoolExecutor(max_workers=min(max_workers, os.cpu_count() or 1), **options)

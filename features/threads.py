"""Thread pools that only big inputs get.

numpy and Arrow release the GIL in their kernels, so the feature build runs independent
steps on threads for millions of rows. For the small frames of an API request the threads
cost more than they save (starting four threads and handing results over took ~5 ms of a
~30 ms build for 32 customers), so below ``PARALLEL_MIN_ROWS`` the same code runs inline.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

# Below this many rows a second thread costs more than it saves.
PARALLEL_MIN_ROWS = 200_000

# The cores this process may fill with threads; None is all of the machine's. A batch
# worker process (serving.batch.workers) is one of a process per core, so it gets one.
_usable_cores: int | None = None

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


def usable_cores() -> int:
    """How many threads this process should run at once (see :func:`limit_cores`)."""
    return _usable_cores if _usable_cores is not None else (os.cpu_count() or 1)


def limit_cores(cores: int | None) -> None:
    """Run at most `cores` threads at once in this process from now on (None: all cores).
    For processes that share the machine's cores with their siblings: threads beyond a
    process's share only contend with the other processes' work."""
    global _usable_cores
    _usable_cores = cores if cores is None else max(cores, 1)


def threads_pay_off(rows: int, min_rows: int = PARALLEL_MIN_ROWS) -> bool:
    """Whether `rows` rows are worth more than one thread: at least `min_rows`, two usable
    cores."""
    return rows >= min_rows and usable_cores() > 1


def pool_for(rows: int, max_workers: int, **options: Any) -> Executor:
    """A thread pool of up to `max_workers` (at most one per core) when
    :func:`threads_pay_off` for `rows`; otherwise an :class:`InlineExecutor`."""
    if not threads_pay_off(rows):
        return InlineExecutor()
    return ThreadPoolExecutor(max_workers=min(max_workers, usable_cores()), **options)


_DONE = object()


def prefetched(items: Iterable[T], depth: int = 1) -> Generator[T, None, None]:
    """`items` in order, each produced on a background thread while the caller works on the
    one before (up to `depth` waiting). For a reader feeding a writer: Arrow and numpy
    release the GIL, so reading the next batch overlaps with writing this one. An exception
    of `items` is raised here, at the item it replaced; leaving the loop early stops the
    thread after the item it is producing."""
    if usable_cores() < 2:
        yield from items
        return
    waiting: queue.Queue[Any] = queue.Queue(maxsize=max(depth, 1))
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if not _put(waiting, (item, None), stop):
                    return
            _put(waiting, (_DONE, None), stop)
        except BaseException as exc:  # handed to the consumer, raised there
            _put(waiting, (_DONE, exc), stop)

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = waiting.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def _put(waiting: queue.Queue[Any], entry: Any, stop: threading.Event) -> bool:
    """Put `entry` once there is room; False when the consumer has stopped meanwhile."""
    while not stop.is_set():
        try:
            waiting.put(entry, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False

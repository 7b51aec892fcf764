"""Partitions scored side by side in worker processes, one per core.

One process scores a partition on little more than one core: most of the work (building
features, the reasons' TreeSHAP and wording) holds Python's GIL. Worker processes each take
whole partitions, so a 2-core machine scores two at a time.

How many and how big (:func:`batch_shape`):

- ``--workers 0`` (the CLI's default, ``AUTO``) is one worker per core, once the orders
  file has at least ``AUTO_WORKERS_MIN_ROWS`` rows (below that, starting processes costs
  more than it saves, and the run stays in this process); library callers get one process
  unless they ask, because spawned workers import the caller's main module;
- ``--partition-rows`` left unset is ``ROWS_IN_FLIGHT`` divided by the workers, so the
  order rows being scored at once, hence peak memory, do not grow with the number of cores.

The pool (:class:`WorkerPool`) starts before the orders are spilled, so the workers' imports
overlap the spill. The model only exists after the spill (``--model auto`` may fit it on the
partitions), so it travels with every task as pickled bytes (a model is a few MB) and each
worker unpickles (and compiles, from the compiled-trees cache) a model once per digest.
Workers are spawned, not forked: a fork of this process, whose Arrow, LLVM and OpenMP
threads may hold locks at that moment, can hang for good.
"""

from __future__ import annotations

import ctypes
import hashlib
import multiprocessing
import os
import pickle
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from serving.batch.spill import estimate_rows

# order rows scored at once over all workers: one 1M-row partition peaks at ~1.6 GB
ROWS_IN_FLIGHT = 1_000_000
# below this many order rows a run stays in one process (measured: the one-pass plan of 1M
# rows took 12.5 s with two workers on 500k-row partitions, 12.0 s in one process)
AUTO_WORKERS_MIN_ROWS = 2_000_000
AUTO = 0  # ``--workers 0``: one per core when the file is large enough


def cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def batch_shape(orders: Path, partition_rows: int | None, workers: int) -> tuple[int, int]:
    """``(partition_rows, workers)`` for a run on the `orders` file (module docstring):
    `workers` ``AUTO`` and `partition_rows` None are chosen from the file's size."""
    if workers == AUTO:
        workers = cores() if estimate_rows(Path(orders)) >= AUTO_WORKERS_MIN_ROWS else 1
    workers = max(workers, 1)
    if partition_rows is None:
        partition_rows = max(ROWS_IN_FLIGHT // workers, 1)
    return partition_rows, workers


@dataclass(frozen=True)
class ModelParcel:
    """A model as it travels to the workers: pickled once here, unpickled once per worker."""

    digest: str
    payload: bytes
    compile_trees: bool

    @classmethod
    def of(cls, model: Any, *, compile_trees: bool) -> ModelParcel:
        payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        return cls(hashlib.sha256(payload).hexdigest(), payload, compile_trees)


# A worker's model, by the digest of its parcel: a worker keeps the last one it was sent.
_loaded: tuple[str, Any] | None = None


def unpacked(parcel: ModelParcel) -> Any:
    """The parcel's model in this worker (compiled if asked), loaded on first use."""
    global _loaded
    if _loaded is None or _loaded[0] != parcel.digest:
        from serving.batch.compiled import compiled_model

        model = pickle.loads(parcel.payload)
        _loaded = (parcel.digest, compiled_model(model) if parcel.compile_trees else model)
    return _loaded[1]


def _start_worker(parent: int) -> None:
    """Follow the `parent` process out, then import what scoring and drafting need while
    it spills the orders. (The parent's pid comes from the parent: if it died before this
    worker started, ``os.getppid()`` here would already be the reaper's.)"""
    _exit_with(parent)
    from features.threads import limit_cores

    # one worker per core: threads of its own (feature steps, compiled trees) would only
    # contend with the other workers
    limit_cores(1)
    keep_freed_memory()
    import serving.batch.compiled
    import serving.policy.planner  # noqa: F401
    import training.predict  # noqa: F401


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Have glibc's malloc keep the memory this process frees, for its next allocations.

    A batch process allocates and frees the same big arrays partition after partition. By
    default glibc serves each block over 32 MB (and smaller ones, once freed, above its
    trim threshold) with fresh pages from the kernel, returned on free: every partition
    then pays page faults and zeroing for all its memory again (on 10M orders: 16 s of
    system time in a 65 s run; 8 s with this). The peak stays that of one partition, as
    the freed memory is reused rather than added to. Returns whether malloc took the
    settings (False where the C library is not glibc: nothing changes)."""
    libc = _glibc()
    if libc is None:
        return False
    # no block gets pages of its own: all come from the heap, whose freed top is kept
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


def release_freed_memory() -> None:
    """Give the memory this process has freed back to the system now (glibc's
    ``malloc_trim`` and Arrow's pool), e.g. after a phase whose peak the next phases do
    not reach: what :func:`keep_freed_memory` keeps would otherwise stay resident."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (``mallopt``, ``malloc_trim``), else None."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def _exit_with(parent: int, every_s: float = 0.5) -> None:
    """Exit this process once `parent` is gone. A parent killed with SIGKILL cannot stop its
    workers, and a worker blocks forever on its task queue (it holds both ends of the pipe),
    so it would score on, then idle, as an orphan."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class WorkerPool:
    """``with WorkerPool(n) as pool: pool.submit(fn, *args)``; `n` <= 1 gives no processes
    (``pool.running`` is False and the caller works in-process)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    @property
    def running(self) -> bool:
        return self._executor is not None

    def __enter__(self) -> WorkerPool:
        if self.workers > 1:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._executor is not None:
            # On an error, tasks not started yet are dropped rather than run for nothing, and
            # the workers are waited for. After success every task is done: the workers
            # only have to exit, which takes ~0.5 s (a gigabyte heap to unmap each) that the
            # caller spends finishing its output instead.
            failed = kind is not None
            self._executor.shutdown(wait=failed, cancel_futures=failed)
            self._executor = None

    def submit(self, fn: Any, /, *args: Any) -> Future[Any]:
        if self._executor is None:
            raise RuntimeError("the pool has no worker processes (workers <= 1)")
        return self._executor.submit(fn, *args)

"""features.threads: threads for big inputs only, the same results either way."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from features.threads import (
    PARALLEL_MIN_ROWS,
    InlineExecutor,
    limit_cores,
    pool_for,
    prefetched,
    usable_cores,
)


def test_small_inputs_run_inline_in_the_callers_thread() -> None:
    with pool_for(10, max_workers=4) as pool:
        assert isinstance(pool, InlineExecutor)
        ran_in = pool.submit(threading.current_thread).result()
        assert list(pool.map(lambda x: x * 2, [1, 2, 3])) == [2, 4, 6]
    assert ran_in is threading.current_thread()


def test_big_inputs_get_a_thread_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    with pool_for(PARALLEL_MIN_ROWS, max_workers=2) as pool:
        assert isinstance(pool, ThreadPoolExecutor)
        assert pool.submit(threading.current_thread).result() is not threading.current_thread()
    monkeypatch.setattr("os.cpu_count", lambda: 1)  # one core: threads would only wait
    assert isinstance(pool_for(PARALLEL_MIN_ROWS, max_workers=2), InlineExecutor)


def test_an_inline_error_surfaces_at_result_like_a_pools() -> None:
    def fail() -> None:
        raise ValueError("bad column")

    future = InlineExecutor().submit(fail)
    with pytest.raises(ValueError, match="bad column"):
        future.result()


def test_a_process_limited_to_one_core_runs_everything_inline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    try:
        limit_cores(1)  # what a batch worker process does
        assert usable_cores() == 1
        assert isinstance(pool_for(PARALLEL_MIN_ROWS, max_workers=2), InlineExecutor)
    finally:
        limit_cores(None)
    assert usable_cores() == 4


def test_prefetched_items_come_in_order_from_another_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    made_in: list[threading.Thread] = []

    def items() -> Iterator[int]:
        for item in range(50):
            made_in.append(threading.current_thread())
            yield item

    assert list(prefetched(items(), depth=2)) == list(range(50))
    assert made_in and all(t is not threading.current_thread() for t in made_in)


def test_a_prefetched_error_is_raised_at_the_item_it_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)

    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("row 3: bad amount")

    got: list[int] = []
    with pytest.raises(ValueError, match="row 3: bad amount"):
        for item in prefetched(items()):
            got.append(item)
    assert got == [1, 2]


def test_leaving_a_prefetched_loop_early_stops_the_producer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    produced: list[int] = []

    def endless() -> Iterator[int]:
        item = 0
        while True:
            produced.append(item)
            yield item
            item += 1

    stream = prefetched(endless(), depth=1)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()  # what a `break` or an exception in the consumer's loop does
    assert not any(t.name == "prefetch" for t in threading.enumerate())
    # the producer made at most the items in flight: the 3 taken, 1 waiting, 1 blocked
    assert len(produced) <= 5

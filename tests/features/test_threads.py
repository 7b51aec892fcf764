"""features.threads: threads for big inputs only, the same results either way."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from features.threads import PARALLEL_MIN_ROWS, InlineExecutor, pool_for


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

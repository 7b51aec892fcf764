"""Concurrent scoring requests are batched without mixing their customers or errors."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from serving.api.batching import FrameBatcher, concat_parts, split_by_customer

AS_OF = dt.date(2026, 10, 31)


class CountingModel:
    """Scores each customer by their order count and total; records each call's size."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.gate = threading.Event()

    def __call__(self, context: object, as_of: dt.date, batch: list, ids: list) -> list:
        (orders,) = concat_parts(batch)
        self.gate.wait(5)  # hold the first call so the others queue up behind it
        if (orders["amount"] < 0).any():
            raise ValueError("negative amount")
        self.calls.append(orders["customer_id"].nunique())
        grouped = orders.groupby("customer_id", sort=True)["amount"]
        scores = pd.DataFrame(
            {
                "customer_id": grouped.size().index.astype("string"),
                "n_orders": grouped.size().to_numpy(),
                "total": grouped.sum().to_numpy(),
                "as_of": as_of,
            }
        )
        return split_by_customer(scores, ids)


def _run(batcher: FrameBatcher, key: str, orders: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    ids = frozenset(orders["customer_id"])
    scores = batcher.run(key, key, as_of, (orders,), ids)
    assert scores is not None
    return scores


def _orders(customer: str, amounts: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"customer_id": pd.array([customer] * len(amounts), dtype="string"), "amount": amounts}
    )


def test_concurrent_requests_are_scored_together_and_each_gets_its_own_rows() -> None:
    model = CountingModel()
    batcher = FrameBatcher(model, workers=1, max_batch=64)
    requests = [_orders(f"c{i}", [10.0] * (i + 1)) for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(_run, batcher, "m", orders, AS_OF) for orders in requests]
        threading.Timer(0.3, model.gate.set).start()
        results = [f.result(timeout=10) for f in futures]

    for i, scores in enumerate(results):
        assert scores["customer_id"].tolist() == [f"c{i}"]
        assert scores["n_orders"].tolist() == [i + 1]
        assert scores["total"].tolist() == [10.0 * (i + 1)]
    assert len(model.calls) < 20, "requests waiting together are scored in fewer calls"
    assert sum(model.calls) == 20


def test_requests_for_the_same_customer_are_never_combined() -> None:
    model = CountingModel()
    batcher = FrameBatcher(model, workers=1)
    requests = [_orders("same", [1.0] * (i + 1)) for i in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(_run, batcher, "m", orders, AS_OF) for orders in requests]
        threading.Timer(0.3, model.gate.set).start()
        results = [f.result(timeout=10) for f in futures]
    assert [r["n_orders"].tolist() for r in results] == [[i + 1] for i in range(6)]
    assert model.calls == [1] * 6


def test_a_bad_request_fails_alone() -> None:
    model = CountingModel()
    batcher = FrameBatcher(model, workers=1)
    good = [_orders(f"c{i}", [5.0, 7.0]) for i in range(5)]
    bad = _orders("x", [-1.0])
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(_run, batcher, "m", o, AS_OF) for o in [*good, bad]]
        threading.Timer(0.3, model.gate.set).start()
        for i, future in enumerate(futures[:5]):
            assert future.result(timeout=10)["customer_id"].tolist() == [f"c{i}"]
        with pytest.raises(ValueError, match="negative amount"):
            futures[5].result(timeout=10)


def test_requests_for_other_dates_or_models_are_not_mixed() -> None:
    model = CountingModel()
    model.gate.set()
    batcher = FrameBatcher(model, workers=2)
    later = AS_OF + dt.timedelta(days=1)
    with ThreadPoolExecutor(max_workers=4) as pool:
        first = pool.submit(_run, batcher, "m", _orders("a", [1.0]), AS_OF)
        second = pool.submit(_run, batcher, "m", _orders("b", [2.0]), later)
        third = pool.submit(_run, batcher, "other", _orders("c", [3.0]), AS_OF)
        assert first.result(timeout=10)["as_of"].tolist() == [AS_OF]
        assert second.result(timeout=10)["as_of"].tolist() == [later]
        assert third.result(timeout=10)["customer_id"].tolist() == ["c"]


def test_split_by_customer_gives_each_request_exactly_its_rows_in_order() -> None:
    frame = pd.DataFrame(
        {"customer_id": pd.array(["b", "a", "c", "a", "b"], dtype="string"), "x": range(5)}
    )
    parts = split_by_customer(frame, [frozenset({"a"}), frozenset({"b", "c"}), frozenset({"z"})])
    assert parts[0] is not None and parts[0]["x"].tolist() == [1, 3]
    assert parts[1] is not None and parts[1]["x"].tolist() == [0, 2, 4]
    assert parts[2] is not None and parts[2].empty
    assert split_by_customer(None, [frozenset({"a"})]) == [None]


def test_steady_clients_stay_in_one_batch() -> None:
    """Clients that each send their next request a moment after their answer (as HTTP
    clients do: the answers go out and the next bodies are parsed one after the other) are
    served together, not in a small and a large call in turn (what taking only what is
    queued gave: 23 + 9 requests out of 32, each call costing nearly as much as one of 32)."""
    clients, rounds = 8, 12
    sizes: list[int] = []

    def model(context: object, as_of: dt.date, batch: list, ids: list) -> list:
        sizes.append(len(batch))
        threading.Event().wait(0.08)  # a scoring call: its cost hardly depends on its size
        return [None] * len(batch)

    batcher = FrameBatcher(model, workers=1)

    def client(number: int) -> None:
        for _ in range(rounds):
            batcher.run("m", None, AS_OF, (), frozenset({f"c{number}"}))
            threading.Event().wait(0.002 * (number + 1))  # the next request, a bit later

    with ThreadPoolExecutor(max_workers=clients) as pool:
        for future in [pool.submit(client, n) for n in range(clients)]:
            future.result(timeout=60)
    steady = sizes[3:]
    assert sum(size == clients for size in steady) >= len(steady) - 1, sizes

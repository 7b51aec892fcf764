"""The shared sorted arrays, checked against plain pandas on random shops (hypothesis)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import features.prepared
from features.pipeline import build_features
from features.prepared import (
    has_repeats,
    short_text_keys,
    sort_keys,
    sorted_codes,
    string_fingerprints,
    text_sort_order,
    texts_of_short_keys,
)

AS_OF = dt.date(2024, 2, 15)


@st.composite
def random_orders(draw: st.DrawFn) -> pd.DataFrame:
    """Up to 40 order lines over 6 customers; several lines per order, several orders per day."""
    n_lines = draw(st.integers(1, 40))
    customer = draw(st.lists(st.sampled_from("abcdef"), min_size=n_lines, max_size=n_lines))
    day = draw(st.lists(st.integers(0, 60), min_size=n_lines, max_size=n_lines))
    order = draw(st.lists(st.integers(0, 8), min_size=n_lines, max_size=n_lines))
    amount = draw(st.lists(st.integers(-5, 50), min_size=n_lines, max_size=n_lines))
    status = draw(
        st.lists(st.sampled_from(["paid", "paid", "paid", "refunded"]), min_size=n_lines,
                 max_size=n_lines)
    )  # fmt: skip
    frame = pd.DataFrame({"customer_id": customer, "day": day, "order": order})
    # an order id is one customer's, placed on one day (its first line's)
    frame["order_id"] = frame["customer_id"] + "-" + frame["order"].astype(str)
    frame["day"] = frame.groupby("order_id")["day"].transform("first")
    start = pd.Timestamp("2024-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype("string"),
            "ordered_at": (start + pd.to_timedelta(frame["day"], unit="D")).astype(
                "datetime64[ns, UTC]"
            ),
            "amount": np.array(amount, dtype=np.float64),
            "order_id": frame["order_id"].astype("string"),
            "sku": pd.Series([f"s{i % 3}" for i in range(n_lines)], dtype="string"),
            "quantity": 1.0,
            "discount": 0.0,
            "channel": pd.Series([pd.NA] * n_lines, dtype="string"),
            "status": pd.Series(status, dtype="string"),
        }
    )


@settings(max_examples=60, deadline=None)
@given(random_orders())
def test_matches_plain_pandas(orders: pd.DataFrame) -> None:
    _assert_matches_plain_pandas(orders)


@settings(max_examples=30, deadline=None)
@given(random_orders())
def test_one_row_per_order_matches_plain_pandas(orders: pd.DataFrame) -> None:
    # distinct order ids take the shortcut where each row is its own order
    orders["order_id"] = pd.Series([f"row{i}" for i in range(len(orders))], dtype="string")
    _assert_matches_plain_pandas(orders)


def _assert_matches_plain_pandas(orders: pd.DataFrame) -> None:
    paid = orders[
        (orders["status"] == "paid") & (orders["ordered_at"] < pd.Timestamp("2024-02-16", tz="UTC"))
    ]
    if paid.empty:
        return
    ours = build_features(orders, AS_OF).set_index("customer_id")
    grouped = paid.groupby("customer_id")
    per_order = paid.groupby(["customer_id", "order_id"])["amount"].sum()
    as_of = pd.Timestamp("2024-02-15", tz="UTC")
    assert list(ours.index) == sorted(paid["customer_id"].unique())
    np.testing.assert_array_equal(ours["n_orders"], grouped["order_id"].nunique())
    np.testing.assert_array_equal(ours["frequency"], grouped["ordered_at"].nunique() - 1)
    np.testing.assert_allclose(ours["revenue_total"], grouped["amount"].sum())
    np.testing.assert_allclose(ours["revenue_max"], per_order.groupby(level=0).max())
    recent = paid[paid["ordered_at"] > as_of - pd.Timedelta(days=30)]
    expected_30d = recent.groupby("customer_id")["order_id"].nunique().reindex(ours.index)
    np.testing.assert_array_equal(ours["orders_30d"], expected_30d.fillna(0))


def test_order_spanning_midnight_counts_once(
    orders_from_rows: Callable[[list[dict[str, object]]], pd.DataFrame],
) -> None:
    orders = orders_from_rows(
        [
            {
                "customer_id": "a",
                "ordered_at": "2024-01-01T23:59",
                "amount": 5,
                "order_id": "x",
                "sku": "p",
            },
            {
                "customer_id": "a",
                "ordered_at": "2024-01-02T00:01",
                "amount": 7,
                "order_id": "x",
                "sku": "q",
            },
            {
                "customer_id": "a",
                "ordered_at": "2024-01-02T08:00",
                "amount": 1,
                "order_id": "y",
                "sku": "p",
            },
            # z sorts between x's two lines, so they are not adjacent: the exact count takes over
            {"customer_id": "a", "ordered_at": "2024-01-01T10:00", "amount": 2, "order_id": "z"},
        ]
    )
    row = build_features(orders, AS_OF).iloc[0]
    assert row["n_orders"] == 3 and row["revenue_max"] == 12.0
    assert row["frequency"] == 1  # two purchase days, whatever the orders


TEXTS = ["a", "ab", "ba", "a\x00", "", "é", "customer-0000000000001", "customer-0000000000002"]


def test_fingerprints_tell_distinct_texts_apart_and_equal_texts_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = pd.Series([*TEXTS, None, "ab", None], dtype="string")
    prints = string_fingerprints(values)
    assert len(set(prints[: len(TEXTS)].tolist())) == len(TEXTS)  # no two texts collide
    assert prints[len(TEXTS) + 1] == prints[1] and prints[-1] == prints[len(TEXTS)]
    assert prints[len(TEXTS)] not in prints[: len(TEXTS)]  # missing is not the empty text
    # the same values as a categorical, or fingerprinted in chunks of 3 rows, agree
    categorical = string_fingerprints(values.astype("category"))
    np.testing.assert_array_equal(categorical, prints)
    monkeypatch.setattr(features.prepared, "FINGERPRINT_CHUNK_ROWS", 3)
    np.testing.assert_array_equal(string_fingerprints(values), prints)


def test_has_repeats() -> None:
    assert not has_repeats(string_fingerprints(pd.Series(TEXTS, dtype="string")))
    assert has_repeats(string_fingerprints(pd.Series(["x", "y", "x"], dtype="string")))
    assert not has_repeats(np.zeros(0, dtype=np.uint64))


@pytest.mark.parametrize(
    "texts",
    [
        ["c10", "c2", "c1", "00001", "0001", "Zz", "é", "c100000"],  # short: packed integers
        ["customer-10", "customer-9", "c1", "b"],  # longer than 8 bytes: Arrow sorts
        ["a\x00", "a", "b"],  # a NUL byte would tie with the padding: Arrow sorts
    ],
)
def test_text_sort_order_is_byte_order(texts: list[str]) -> None:
    order = text_sort_order(pa.array(texts, type=pa.large_string()))
    assert [texts[i] for i in order] == sorted(texts, key=lambda text: text.encode())


def test_short_texts_are_their_own_exact_keys() -> None:
    texts = pa.array(["c1", "c10", "c2", "", "00001", "o1234567"], type=pa.large_string())
    keys = short_text_keys(texts)
    assert keys is not None
    assert keys[0] == int.from_bytes(b"c1".ljust(8, b"\0"), "big") and keys[3] == 0
    assert list(np.argsort(keys)) == [3, 4, 0, 1, 2, 5]
    for refused in (["a", None], ["a\x00"], ["123456789"]):
        assert short_text_keys(pa.array(refused, type=pa.large_string())) is None
    assert texts_of_short_keys(keys).to_pylist() == texts.to_pylist()  # and back
    # short values fingerprint to their keys, so repeats show as equal fingerprints
    prints = string_fingerprints(pd.Series(["c1", "c10", "c1"], dtype="string"))
    assert prints[0] == prints[2] != prints[1]


@pytest.mark.parametrize(
    "ids",
    [
        ["c10", "c2", "c1", "c2", "00001", "c10", "é", "o1234567"],  # short: packed keys
        ["customer-10", "customer-9", "c1", "customer-9"],  # long: factorize, sort distinct
    ],
)
@pytest.mark.parametrize("dtype", ["string", "category"])
def test_sorted_codes_match_a_sorted_factorize(ids: list[str], dtype: str) -> None:
    codes, names = sorted_codes(pd.Series(ids, dtype=dtype))
    expected_codes, expected_names = pd.factorize(pd.Series(ids, dtype="string"), sort=True)
    np.testing.assert_array_equal(codes, expected_codes)
    assert list(names) == list(expected_names)


@pytest.mark.parametrize(
    "keys",
    [
        # few values per 16-bit digit: renumbered and sorted beside their positions
        [5 << 48 | 7, 5 << 48 | 3, 1 << 48 | 7, 5 << 48 | 3, 0, 2**64 - 1],
        # every digit uses many values: too many bits for the position, argsorted
        list(np.random.default_rng(1).integers(0, 2**63, 5_000, dtype=np.uint64)) * 2,
    ],
)
def test_sort_keys_sorts_and_keeps_ties_and_order(keys: list[int]) -> None:
    array = np.array(keys, dtype=np.uint64)
    order, image = sort_keys(array)
    ordered = array[order]
    assert sorted(order) == list(range(len(array)))  # a permutation
    assert (ordered[1:] >= ordered[:-1]).all()
    # the image rises exactly where the sorted keys rise
    np.testing.assert_array_equal(image[1:] != image[:-1], ordered[1:] != ordered[:-1])
    assert (image[1:] >= image[:-1]).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1) | st.sampled_from([0, 1, 2**48, 2**63]), max_size=40))
def test_sort_keys_agrees_with_argsort(keys: list[int]) -> None:
    array = np.array(keys, dtype=np.uint64)
    order, _ = sort_keys(array)
    np.testing.assert_array_equal(array[order], np.sort(array))

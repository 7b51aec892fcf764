"""Orders up to ``as_of``, turned once into sorted numpy arrays every feature module shares.

Sorting once by customer and purchase day lets every per-customer statistic be a
``bincount``/``reduceat`` over contiguous runs instead of a ``groupby`` on strings, which is
what keeps the pipeline fast on tens of millions of rows.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.errors import InputError
from features.threads import pool_for

IntArray = npt.NDArray[np.signedinteger[Any]]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

NS_PER_DAY = 86_400 * 10**9
# odd, so multiplying by it modulo 2**64 loses no bits; the golden-ratio constant spreads bytes
FINGERPRINT_BASE = np.uint64(0x9E3779B97F4A7C15)
NULL_FINGERPRINT = np.uint64(0x5BD1E9955BD1E995)
FINGERPRINT_CHUNK_ROWS = 500_000  # bounds the per-byte temporaries to a few hundred MB
REQUIRED_ORDER_COLUMNS = ("customer_id", "ordered_at", "amount", "order_id", "status")


def as_of_timestamp(as_of: dt.date | pd.Timestamp | str) -> pd.Timestamp:
    """Midnight UTC of the as_of day (a timezone-aware timestamp is first moved to UTC)."""
    stamp = pd.Timestamp(as_of)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.normalize().tz_localize("UTC")


def epoch_days(stamps: pd.Series) -> IntArray:
    """UTC calendar day numbers (days since 1970-01-01) of a timezone-aware timestamp column."""
    values = stamps.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    nanos = values.array.asi8  # type: ignore[attr-defined]
    return np.floor_divide(nanos, NS_PER_DAY).astype(np.int32)


def validate_columns(frame: pd.DataFrame, required: tuple[str, ...], name: str) -> None:
    """Refuse a frame that lacks a column a feature needs (programming error made visible)."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{name} frame lacks column(s) {', '.join(missing)}")


@dataclass(frozen=True)
class PreparedOrders:
    """Purchases (paid rows up to the end of the as_of day) sorted by customer then day.

    Row arrays (``code`` ... ``channel``) are aligned and sorted; ``row_offsets[i]`` ..
    ``row_offsets[i+1]`` are customer ``i``'s rows. Day arrays describe distinct purchase days
    (one entry per customer and day); ``day_offsets`` delimits each customer's days.
    ``other_*`` arrays are the customers' refunded/cancelled rows and paid return lines.
    """

    customer_ids: pd.Index
    as_of_day: int
    code: IntArray
    day: IntArray
    amount: FloatArray
    quantity: FloatArray
    discount: FloatArray
    order_first: BoolArray  # first row of each (customer, order_id)
    order_revenue: FloatArray  # on order_first rows: the order's total amount, else 0
    order_discounted: BoolArray  # on order_first rows: any row of the order had a discount
    sku: IntArray  # codes into sku_names, -1 when unknown
    sku_names: pd.Index
    channel: IntArray  # codes into channel_names, -1 when unknown
    channel_names: pd.Index
    row_offsets: IntArray
    day_code: IntArray
    day_value: IntArray
    day_revenue: FloatArray
    day_row_start: IntArray
    day_offsets: IntArray
    # rows that are not plain purchases (refunded, cancelled, paid with a negative amount) of
    # these customers up to as_of; few, so kept apart instead of a copy of every row
    other_code: IntArray
    other_status: IntArray  # 0 paid (a return line), 1 refunded, 2 cancelled
    other_amount: FloatArray
    # per row: the purchase answered a message (``features.prompted``); None: not known
    prompted: BoolArray | None = None

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)


def prepare_orders(orders: pd.DataFrame, as_of: dt.date | pd.Timestamp | str) -> PreparedOrders:
    """Sort and encode the canonical orders frame (see ``features.tables.read_orders``).

    Required columns: ``customer_id``, ``ordered_at``, ``amount``, ``order_id``, ``status``;
    ``sku``, ``quantity``, ``discount``, ``channel``, ``prompted`` are used when present.
    Only rows with ``ordered_at < as_of + 1 day`` are looked at.
    """
    validate_columns(orders, REQUIRED_ORDER_COLUMNS, "orders")
    as_of_day = int(as_of_timestamp(as_of).value // NS_PER_DAY)
    day_all = epoch_days(orders["ordered_at"])
    visible = day_all <= as_of_day
    status_all = _status_codes(orders["status"])
    # Customers are those with a paid row up to as_of; everything else about them comes along.
    # Hashing the text columns is the costliest step; Arrow releases the GIL while it hashes,
    # so the columns are encoded side by side (one thread per core is enough).
    with pool_for(len(orders), max_workers=4) as pool:
        customers_job = pool.submit(sorted_codes, orders["customer_id"])
        orders_job = pool.submit(_order_codes, orders["order_id"])
        sku_job = pool.submit(_text_codes, orders, "sku")
        channel_job = pool.submit(_text_codes, orders, "channel")
        cust_codes, uniques = customers_job.result()
        order_codes_all, order_is_row = orders_job.result()
        sku_all, sku_names = sku_job.result()
        channel_all, channel_names = channel_job.result()
    paid = visible & (status_all == 0)
    del visible
    has_paid = np.zeros(len(uniques), dtype=bool)
    has_paid[cust_codes[paid]] = True
    # int32 codes and days halve the memory traffic of every later step
    remap = (np.cumsum(has_paid, dtype=np.int64) - 1).astype(np.int32)
    customer_ids = pd.Index(uniques[has_paid], name="customer_id")
    amount_all = orders["amount"].to_numpy(dtype=np.float64)
    other = has_paid[cust_codes] & (day_all <= as_of_day) & ((status_all != 0) | (amount_all < 0))
    other_rows = np.flatnonzero(other)
    del other
    code_all = remap[cust_codes]
    del cust_codes, remap

    rows, order_first = _sort_purchases(code_all, day_all, order_codes_all, paid, order_is_row)
    del paid
    # gathers of scattered rows are memory-bound and numpy lets go of the GIL in them: the
    # integer columns are gathered on the pool while this thread gathers the float ones
    with pool_for(len(rows), max_workers=2) as pool:
        jobs = [pool.submit(np.take, a, rows) for a in (code_all, day_all, sku_all, channel_all)]
        amount = _float_column(orders, "amount", rows, 0.0)
        quantity = _float_column(orders, "quantity", rows, 1.0)
        discount = _float_column(orders, "discount", rows, 0.0)
        code, day, sku, channel = (job.result() for job in jobs)
    del jobs, day_all, sku_all, channel_all
    day = day.astype(np.int32, copy=False)

    if order_is_row:  # one row per order: the row is the order, no totals to gather
        del order_codes_all
        order_revenue = amount.copy()
        order_discounted = discount > 0
    else:
        order_codes = order_codes_all[rows]
        del order_codes_all
        order_total = np.bincount(order_codes, weights=amount, minlength=1)
        order_revenue = np.where(order_first, order_total[order_codes], 0.0)
        del order_total
        order_disc = np.bincount(order_codes, weights=discount > 0, minlength=1) > 0
        order_discounted = order_first & order_disc[order_codes]
        del order_disc, order_codes

    n = len(customer_ids)
    row_offsets = _offsets(code, n)
    new_day = np.ones(len(code), dtype=bool)
    new_day[1:] = (code[1:] != code[:-1]) | (day[1:] != day[:-1])
    day_row_start = np.flatnonzero(new_day)
    del new_day
    day_code = code[day_row_start]
    day_value = day[day_row_start]
    day_revenue = (
        np.add.reduceat(amount, day_row_start) if len(day_row_start) else np.zeros(0, np.float64)
    )
    day_offsets = _offsets(day_code, n)

    return PreparedOrders(
        customer_ids=customer_ids,
        as_of_day=as_of_day,
        code=code,
        day=day,
        amount=amount,
        quantity=quantity,
        discount=discount,
        order_first=order_first,
        order_revenue=order_revenue,
        order_discounted=order_discounted,
        sku=sku,
        sku_names=sku_names,
        channel=channel,
        channel_names=channel_names,
        row_offsets=row_offsets,
        day_code=day_code,
        day_value=day_value,
        day_revenue=day_revenue.astype(np.float64),
        day_row_start=day_row_start,
        day_offsets=day_offsets,
        other_code=code_all[other_rows],
        other_status=status_all[other_rows],
        other_amount=amount_all[other_rows],
        prompted=(
            orders["prompted"].to_numpy(dtype=bool)[rows] if "prompted" in orders.columns else None
        ),
    )


def _sort_purchases(
    code_all: IntArray,
    day_all: IntArray,
    order_codes_all: IntArray,
    paid: BoolArray,
    order_is_row: bool = False,
) -> tuple[IntArray, BoolArray]:
    """Positions of the paid rows sorted by customer, day, order; and each order's first row.

    With the order code as the last sort key, the rows of one order are adjacent, so "first
    row of an order" is a comparison with the previous row instead of a hash table over
    millions of order ids. That holds when all rows of an order share customer and day; when
    they do not (an order spanning midnight), an exact hash-based count takes over.
    ``order_is_row`` says the order codes are the row positions (every row its own order).
    """
    paid_idx = np.flatnonzero(paid)
    if len(paid_idx) == 0:
        return paid_idx, np.zeros(0, dtype=bool)
    code = code_all[paid_idx]
    day = day_all[paid_idx]
    order_code = order_codes_all[paid_idx]
    first_day, n_orders = int(day.min()), int(order_code.max()) + 1
    span = int(day.max()) - first_day + 1
    if (int(code.max()) + 1) * span * n_orders < 2**62:
        # built in place: one int64 array instead of a chain of temporaries
        key = code.astype(np.int64)
        key *= span
        key += day - first_day
        key *= n_orders
        key += order_code
        if order_is_row:
            # the key ends in the row position, so sorting the keys themselves (numpy's SIMD
            # sort, several times faster than argsort) and reading the position back gives
            # the sorted rows
            key.sort()
            rows = key % n_orders
            del key
            return rows, np.ones(len(rows), dtype=bool)  # every row is its order's first
        order = np.argsort(key)
        del key
    else:  # the combined key would overflow
        order = np.lexsort((order_code, day, code))
    del day
    rows = paid_idx[order]
    del paid_idx
    code, order_code = code[order], order_code[order]
    del order
    return rows, _first_of_order(code, order_code, n_orders)


def _first_of_order(code: IntArray, order_code: IntArray, n_orders: int) -> BoolArray:
    """First row of each (customer, order) in rows sorted by customer, day, order."""
    first = np.ones(len(code), dtype=bool)
    first[1:] = (order_code[1:] != order_code[:-1]) | (code[1:] != code[:-1])
    if int(first.sum()) != int(np.count_nonzero(np.bincount(order_code))):
        pair = code.astype(np.int64) * n_orders + order_code
        first = ~pd.Series(pair).duplicated().to_numpy()
    return first


def _offsets(sorted_codes: IntArray, n: int) -> IntArray:
    """Start of each code's run in a sorted code array, plus the total length at the end."""
    counts = np.bincount(sorted_codes, minlength=n)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def encode(values: pd.Series) -> tuple[IntArray, pd.Index]:
    """int32 codes and distinct values of a text column (categorical columns for free)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int32), pd.Index(values.cat.categories)
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int32), pd.Index(uniques)


def sorted_codes(values: pd.Series) -> tuple[IntArray, pd.Index]:
    """Integer codes whose order is the sorted order of the values (no missing values).

    Short ids are sorted as packed integers (see :func:`short_text_keys` and
    :func:`sort_keys`): one sort gives codes and order at once. Other ids are factorized
    unsorted, then only the distinct values are sorted, much cheaper than
    ``pd.factorize(sort=True)`` on millions of strings.
    """
    if not isinstance(values.dtype, pd.CategoricalDtype):  # categoricals come encoded
        texts = _large_text(values)
        keys = short_text_keys(texts)
        if keys is not None:
            order, image = sort_keys(keys)
            first = np.ones(len(image), dtype=bool)  # first row of each distinct value
            first[1:] = image[1:] != image[:-1]
            del image
            codes = np.empty(len(order), dtype=np.int32)
            codes[order] = np.cumsum(first, dtype=np.int32) - 1
            # the distinct texts rebuilt from their keys: cheaper than a take of scattered
            # strings out of the whole column
            names = texts_of_short_keys(keys[order[first]])
            return codes, pd.Index(pd.array(names, dtype="string"))
    codes, uniques = encode(values)
    order = text_sort_order(_large_text(pd.Series(uniques)))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return rank.astype(np.int32)[codes], pd.Index(uniques).take(order)


def text_sort_order(texts: pa.LargeStringArray) -> IntArray:
    """Positions that sort the texts by their UTF-8 bytes (Arrow's string order)."""
    keys = short_text_keys(texts)
    if keys is None:
        return pc.array_sort_indices(texts).to_numpy().astype(np.int64)
    return sort_keys(keys)[0]


def sort_keys(keys: npt.NDArray[np.uint64]) -> tuple[IntArray, npt.NDArray[np.uint64]]:
    """Positions that sort `keys` (equal keys in any order), and an array in that order that
    compares as the sorted keys do (equal where they are equal, increasing where they rise).

    numpy sorts 64-bit integers (SIMD) about seven times faster than it argsorts them
    (1.9 s for 10M customer ids). So the keys are renumbered, order kept, into as few bits as
    they need, each beside its position in one integer; those are sorted and the positions
    read back. The renumbering ranks, in each 16-bit digit of the keys, only the values that
    occur: ids like "c3499999" use 11 of 65,536 values in the first digit and 121 in each
    other, 25 bits in all. Keys needing too many bits for that are argsorted.
    """
    n = len(keys)
    position_bits = max((n - 1).bit_length(), 1)
    digits = keys.view(np.uint16).reshape(n, 4)
    # most significant digit first, whatever the machine's byte order
    columns = (3, 2, 1, 0) if sys.byteorder == "little" else (0, 1, 2, 3)
    packed = np.zeros(n, dtype=np.uint64)
    space = 1
    for column in columns:
        used = np.bincount(digits[:, column], minlength=2**16) > 0
        size = int(used.sum())
        if size == 1:
            continue  # the same in every key: adds nothing to the order
        space *= size
        if (space - 1).bit_length() + position_bits > 64:
            order = np.argsort(keys)
            return order, keys[order]
        rank = (np.cumsum(used) - 1).astype(np.uint64)
        packed *= np.uint64(size)
        packed += rank[digits[:, column]]
    packed <<= np.uint64(position_bits)
    packed |= np.arange(n, dtype=np.uint64)
    packed.sort()
    order = (packed & np.uint64(2**position_bits - 1)).astype(np.int64)
    packed >>= np.uint64(position_bits)
    return order, packed


def short_text_keys(texts: pa.LargeStringArray) -> npt.NDArray[np.uint64] | None:
    """Each text's UTF-8 bytes as one big-endian uint64, zero-padded; None unless every text
    has at most 8 bytes, none is missing and none holds a NUL byte.

    Such keys are exact (distinct texts, distinct keys) and sort like the texts: "c1" < "c10"
    < "c2". Short ids ("00001", "C002835", "o1234567") are common, and numpy sorts and
    compares integers several times faster than Arrow or pandas handle strings.
    """
    n = len(texts)
    if n == 0 or texts.null_count or texts.buffers()[2] is None:
        return None
    offsets = np.frombuffer(
        texts.buffers()[1], dtype=np.int64, count=n + 1, offset=texts.offset * 8
    )
    lengths = np.diff(offsets)
    data = np.frombuffer(texts.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    if lengths.max() > 8 or not data.all():  # data.all(): no NUL byte, which pads
        return None
    padded = np.concatenate([data, np.zeros(8, dtype=np.uint8)])
    # a view of every 8-byte window of the data as an integer: one gather reads each text's
    # first 8 bytes. Gathered in native byte order, then swapped in place: gathering from a
    # big-endian view swaps element by element, twice as slow on 10M ids
    windows = np.ndarray(shape=(len(data) + 1,), dtype=np.uint64, buffer=padded, strides=(1,))
    keys = windows[offsets[:-1] - offsets[0]]
    if sys.byteorder == "little":
        keys.byteswap(inplace=True)
    keep = np.array([(2**64 - 1) ^ (2 ** (64 - 8 * k) - 1) for k in range(9)], dtype=np.uint64)
    keys &= keep[lengths]  # zero the bytes past each text's end
    return keys


def texts_of_short_keys(keys: npt.NDArray[np.uint64]) -> pa.LargeStringArray:
    """The texts whose :func:`short_text_keys` these are: the packing undone.

    Such texts hold no NUL byte, so a key's nonzero bytes are exactly its text.
    """
    table = keys.astype(">u8").view(np.uint8).reshape(len(keys), 8)  # text bytes first
    present = table != 0
    offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(np.count_nonzero(present, axis=1), out=offsets[1:])
    data = table[present]  # row by row: each text's bytes in order
    return pa.Array.from_buffers(
        pa.large_string(), len(keys), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def string_fingerprints(values: pd.Series) -> npt.NDArray[np.uint64]:
    """A 64-bit fingerprint of every value of a text column: equal texts, equal fingerprints.

    Distinct fingerprints prove distinct texts; equal ones only suggest equal texts (two texts
    may collide), so a caller that finds equal fingerprints must compare the texts. Short
    texts are their own exact keys (:func:`short_text_keys`); longer ones get a polynomial
    hash of their UTF-8 bytes, computed by numpy straight from the Arrow buffers: no Python
    strings and no hash table, several times faster than ``pd.factorize`` on millions of
    distinct ids. Missing values share one fingerprint.
    """
    texts = _large_text(values)
    keys = short_text_keys(texts)
    if keys is not None:
        return keys
    out = np.empty(len(texts), dtype=np.uint64)
    for start in range(0, len(texts), FINGERPRINT_CHUNK_ROWS):
        chunk = texts.slice(start, FINGERPRINT_CHUNK_ROWS)
        out[start : start + len(chunk)] = _polynomial_hash(chunk)
    out[texts.is_null().to_numpy(zero_copy_only=False)] = NULL_FINGERPRINT
    return out


def _large_text(values: pd.Series) -> pa.LargeStringArray:
    """The column as one Arrow large-string array (categoricals and chunks flattened)."""
    arrow = pa.array(values, from_pandas=True)
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks() if arrow.num_chunks != 1 else arrow.chunk(0)
    return arrow.cast(pa.large_string())


def _polynomial_hash(chunk: pa.LargeStringArray) -> npt.NDArray[np.uint64]:
    """sum over bytes (byte + 1) * BASE**position, modulo 2**64, mixed with the length."""
    n = len(chunk)
    offsets = np.frombuffer(
        chunk.buffers()[1], dtype=np.int64, count=n + 1, offset=chunk.offset * 8
    )
    lengths = np.diff(offsets)
    fingerprint = lengths.astype(np.uint64) * FINGERPRINT_BASE
    nonempty = lengths > 0
    if not nonempty.any():
        return fingerprint
    data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    starts = offsets[:-1] - offsets[0]
    position = np.arange(len(data), dtype=np.int64) - np.repeat(starts, lengths)
    powers = np.cumprod(np.full(int(lengths.max()), FINGERPRINT_BASE, dtype=np.uint64))
    terms = (data.astype(np.uint64) + np.uint64(1)) * powers[position]
    del position
    # each nonempty text's bytes run from its start to the next nonempty start
    fingerprint[nonempty] += np.add.reduceat(terms, starts[nonempty])
    return fingerprint


def has_repeats(fingerprints: npt.NDArray[np.uint64]) -> bool:
    """Whether any fingerprint occurs twice (sorting integers beats a hash table here)."""
    ordered = np.sort(fingerprints)
    return bool((ordered[1:] == ordered[:-1]).any())


def _order_codes(order_id: pd.Series) -> tuple[IntArray, bool]:
    """Integer code of each row's order, and whether the codes are simply the row positions.

    Exports with one row per order are common; their order ids are all distinct, which the
    fingerprints prove without encoding millions of ids.
    """
    if not has_repeats(string_fingerprints(order_id)):
        return np.arange(len(order_id), dtype=np.int64), True
    return encode(order_id)[0], False


def _status_codes(status: pd.Series) -> IntArray:
    codes = np.full(len(status), 0, dtype=np.int8)
    # a categorical compares its few categories, not millions of strings
    text = status if isinstance(status.dtype, pd.CategoricalDtype) else status.astype("string")
    codes[(text == "refunded").fillna(False).to_numpy(dtype=bool)] = 1
    codes[(text == "cancelled").fillna(False).to_numpy(dtype=bool)] = 2
    return codes


def _float_column(frame: pd.DataFrame, column: str, rows: IntArray, default: float) -> FloatArray:
    if column not in frame.columns:
        return np.full(len(rows), default, dtype=np.float64)
    column_values = frame[column]
    if column_values.dtype == np.float64:  # the canonical frame: plain float64, no copy
        values = column_values.to_numpy()[rows]
    else:
        values = column_values.to_numpy(dtype=np.float64, na_value=np.nan)[rows]
    missing = np.isnan(values)
    if missing.any():
        values[missing] = default
    return values


def _text_codes(frame: pd.DataFrame, column: str) -> tuple[IntArray, pd.Index]:
    """Integer codes (-1 = missing) and their labels, for every row of a text column.

    The whole column is encoded (then int codes selected): cheaper than selecting strings.
    The labels are sorted, so codes compare like the texts whatever else is in the frame:
    a tie broken by code (the cycle's usual SKU) then gives a customer the same answer
    in any partition of the shop. Encoding alone numbers them by first appearance.
    """
    if column not in frame.columns:
        return np.full(len(frame), -1, dtype=np.int32), pd.Index([], dtype="string")
    codes, names = encode(frame[column])
    names = names.astype("string")
    order = np.argsort(names.to_numpy(dtype=object), kind="stable")
    if (order != np.arange(len(order))).any():
        rank = np.empty(len(order) + 1, dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        rank[-1] = -1  # code -1 (missing) indexes the last slot and stays -1
        codes = rank[codes]
        names = names[order]
    return codes, names

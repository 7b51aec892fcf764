"""What and how a customer buys: discounts and price sensitivity, channel and category mix,
returns.

Price sensitivity tiers by the share of the customer's orders that carried a discount:
``low`` at or below ``price_sensitivity_low_share``, ``high`` at or above
``price_sensitivity_high_share``, ``medium`` in between.

Channel (category) shares are the customer's rows in each of the top channels (categories)
over their rows with a known channel (category); ``*_share_other`` takes the rest. The top
list is the most used up to as_of, or fixed by ``FeatureConfig.channels``/``categories`` so
that snapshots at different dates get the same columns.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa

from features.config import FeatureConfig
from features.prepared import IntArray, PreparedOrders

PRICE_SENSITIVITY = ("low", "medium", "high")


def label_series(codes: np.ndarray, labels: tuple[str, ...]) -> pd.Series:
    """A string column from integer codes into ``labels`` (cheap for millions of rows)."""
    dictionary = pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(codes, dtype=np.int32)), pa.array(list(labels), type=pa.string())
    )
    # large_string is what pandas keeps: cast to it directly, not through string
    return pd.Series(pd.array(dictionary.cast(pa.large_string()), dtype="string"))


def discount_features(prepared: PreparedOrders, config: FeatureConfig) -> pd.DataFrame:
    """``discount_total``, ``discount_share`` (discount / gross revenue),
    ``discounted_order_share`` and ``price_sensitivity``."""
    n = prepared.n_customers
    discount_total = np.bincount(prepared.code, weights=prepared.discount, minlength=n)
    revenue = np.bincount(prepared.code, weights=prepared.amount, minlength=n)
    n_orders = np.bincount(prepared.code[prepared.order_first], minlength=n)
    discounted = np.bincount(prepared.code[prepared.order_discounted], minlength=n)
    gross = revenue + discount_total
    with np.errstate(invalid="ignore", divide="ignore"):
        discount_share = np.where(gross > 0, discount_total / gross, 0.0)
    discounted_share = discounted / n_orders
    tier = np.where(
        discounted_share >= config.price_sensitivity_high_share,
        2,
        np.where(discounted_share <= config.price_sensitivity_low_share, 0, 1),
    )
    return pd.DataFrame(
        {
            "discount_total": discount_total,
            "discount_share": discount_share,
            "discounted_order_share": discounted_share,
            "price_sensitivity": label_series(tier, PRICE_SENSITIVITY),
        },
        copy=False,  # the arrays are the frame's alone: no copy into 2-D blocks
    )


def channel_features(prepared: PreparedOrders, config: FeatureConfig) -> pd.DataFrame:
    """``channel_share_<name>`` for the top channels, ``channel_share_other``, ``n_channels``."""
    return _mix(
        prepared,
        prepared.channel,
        prepared.channel_names,
        "channel",
        config.channels,
        config.mix_top_channels,
    )


def category_features(
    prepared: PreparedOrders, products: pd.DataFrame | None, config: FeatureConfig
) -> pd.DataFrame:
    """``category_share_<name>`` for the top categories (needs products: ``sku``, ``category``)."""
    if products is None or "category" not in products.columns or len(prepared.sku_names) == 0:
        return pd.DataFrame(index=pd.RangeIndex(prepared.n_customers))
    table = products.drop_duplicates("sku", keep="last")
    category_of_sku = pd.Series(
        table["category"].astype("string").to_numpy(), index=pd.Index(table["sku"].astype("string"))
    ).reindex(prepared.sku_names)
    sku_category, names = pd.factorize(category_of_sku)
    padded = np.append(sku_category.astype(np.int64), -1)
    row_category = padded[np.where(prepared.sku >= 0, prepared.sku, len(sku_category))]
    return _mix(
        prepared,
        row_category,
        pd.Index(names).astype("string"),
        "category",
        config.categories,
        config.mix_top_categories,
    )


def return_features(prepared: PreparedOrders) -> pd.DataFrame:
    """Returns up to as_of over all the customer's rows (any status): ``returns_count`` (paid
    rows with a negative amount, and refunded rows), ``refunded_count``, ``cancelled_count``,
    ``return_share`` (returns / rows) and ``returned_amount``."""
    n = prepared.n_customers
    code, status, amount = prepared.other_code, prepared.other_status, prepared.other_amount
    returned = ((status == 0) & (amount < 0)) | (status == 1)
    paid_rows = np.diff(prepared.row_offsets)
    rows = paid_rows + np.bincount(code[status != 0], minlength=n)
    returns_count = np.bincount(code[returned], minlength=n)
    return pd.DataFrame(
        {
            "returns_count": returns_count.astype(np.int32),
            "refunded_count": np.bincount(code[status == 1], minlength=n).astype(np.int32),
            "cancelled_count": np.bincount(code[status == 2], minlength=n).astype(np.int32),
            "return_share": returns_count / rows,
            "returned_amount": np.bincount(
                code[returned], weights=np.abs(amount[returned]), minlength=n
            ).astype(np.float64),
        },
        copy=False,  # the arrays are the frame's alone: no copy into 2-D blocks
    )


def _mix(
    prepared: PreparedOrders,
    row_codes: IntArray,
    names: pd.Index,
    prefix: str,
    fixed: tuple[str, ...] | None,
    top: int,
) -> pd.DataFrame:
    n = prepared.n_customers
    known = row_codes >= 0
    if fixed is None and not known.any():
        return pd.DataFrame(index=pd.RangeIndex(n))  # no such data at all: no columns
    if known.all():  # usual: every row has a value, nothing to select
        customer, value = prepared.code, row_codes
    else:
        customer, value = prepared.code[known], row_codes[known]
    del known
    if n * max(len(names), 1) <= 50_000_000:  # small: one full customer x value count table
        full = _count_table(customer, value, len(names), n)
        distinct = np.count_nonzero(full, axis=1)
        counts = full.sum(axis=0)
    else:  # many values (e.g. thousands of categories): count only the chosen ones
        full = None
        distinct = np.bincount(
            pd.unique(customer.astype(np.int64) * len(names) + value) // len(names), minlength=n
        )
        counts = np.bincount(value, minlength=len(names))
    if fixed is not None:
        chosen = list(fixed)
    else:
        # most used first; ties by name so the columns do not depend on row order
        ranking = sorted(range(len(names)), key=lambda i: (-counts[i], str(names[i])))
        chosen = sorted(str(names[i]) for i in ranking[:top] if counts[i] > 0)
    totals = np.bincount(customer, minlength=n) if full is None else full.sum(axis=1)
    denominator = np.maximum(totals, 1).astype(np.float64)
    columns: dict[str, np.ndarray] = {}
    chosen_total = np.zeros(n, dtype=np.int64)
    for name in chosen:
        matches = np.flatnonzero(names == name)
        if full is not None:
            # one match (names are distinct): that column itself, no copy
            counts = full[:, matches[0]] if len(matches) == 1 else full[:, matches].sum(axis=1)
        else:
            counts = np.bincount(customer[np.isin(value, matches)], minlength=n)
        chosen_total += counts
        columns[f"{prefix}_share_{_slug(name)}"] = (counts / denominator).astype(np.float32)
    columns[f"{prefix}_share_other"] = ((totals - chosen_total) / denominator).astype(np.float32)
    columns["n_categories" if prefix == "category" else f"n_{prefix}s"] = distinct.astype(np.int32)
    return pd.DataFrame(columns, copy=False)  # no copy into 2-D blocks


def _count_table(customer: np.ndarray, value: np.ndarray, n_values: int, n: int) -> np.ndarray:
    """Rows per customer (row) and value (column), from one bincount."""
    key = customer.astype(np.int64)
    key *= n_values
    key += value
    return np.bincount(key, minlength=n * n_values).reshape(n, n_values)


def _slug(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_") or "blank"

"""The input contract: canonical frames from good files, InputError naming file+column+row from bad ones."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest

from features.errors import InputError
from features.tables import (
    canonical_orders,
    paid_orders,
    read_contacts,
    read_customers,
    read_orders,
    read_products,
)

GOOD_ORDERS = """customer_id,ordered_at,amount,order_id,sku,quantity,discount,channel,status
c1,2024-01-05,30.0,o1,A,2,5,web,paid
c1,2024-01-05,30.0,o1,A,2,5,web,paid
c1,2024-01-05,10.0,o1,B,1,0,web,paid
c2,2024-02-01T10:30:00,-12.5,o2,A,1,0,WeCom,refunded
c2,2024-02-03 08:00:00,20,o3,,,,,
"""


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_orders_are_canonical(tmp_path: Path) -> None:
    orders = read_orders(write(tmp_path, "orders.csv", GOOD_ORDERS))

    # o1/A appears twice: counted once (SPEC: duplicate order_id+sku rows count once).
    assert len(orders) == 4
    assert str(orders["ordered_at"].dtype) == "datetime64[ns, UTC]"
    assert orders["amount"].tolist() == [30.0, 10.0, -12.5, 20.0]
    # Defaults: quantity 1, discount 0, status paid; channel lower-cased.
    last = orders.iloc[-1]
    assert (last["quantity"], last["discount"], last["status"]) == (1.0, 0.0, "paid")
    assert orders.loc[2, "channel"] == "wecom"
    assert orders.loc[3, "ordered_at"] == pd.Timestamp("2024-02-03 08:00", tz="UTC")


def test_only_paid_rows_are_purchases(tmp_path: Path) -> None:
    orders = read_orders(write(tmp_path, "orders.csv", GOOD_ORDERS))
    assert paid_orders(orders)["order_id"].tolist() == ["o1", "o1", "o3"]


def test_identifiers_keep_leading_zeros(tmp_path: Path) -> None:
    orders = read_orders(
        write(tmp_path, "o.csv", "customer_id,ordered_at,amount\n00001,1997-01-01,11.77\n")
    )
    assert orders["customer_id"].tolist() == ["00001"]
    # Without order_id, each row is its own order.
    assert orders["order_id"].nunique() == 1


def test_offsets_are_converted_to_utc(tmp_path: Path) -> None:
    text = (
        "customer_id,ordered_at,amount\na,2024-03-01T08:00:00+08:00,1\nb,2024-03-01T00:00:00Z,1\n"
    )
    orders = read_orders(write(tmp_path, "o.csv", text))
    assert (orders["ordered_at"] == pd.Timestamp("2024-03-01 00:00", tz="UTC")).all()


def test_column_map_renames_user_columns(tmp_path: Path) -> None:
    text = "Customer ID,Order Date,Net\nx,2024-01-01,5\n"
    mapping = {"Customer ID": "customer_id", "Order Date": "ordered_at", "Net": "amount"}
    orders = read_orders(write(tmp_path, "o.csv", text), mapping)
    assert orders.loc[0, "customer_id"] == "x"


def test_parquet_with_naive_timestamps_is_utc(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["a"],
            "ordered_at": pd.to_datetime(["2024-01-01 12:00"]),
            "amount": [3.0],
        }
    )
    path = tmp_path / "o.parquet"
    frame.to_parquet(path)
    orders = read_orders(path)
    assert orders.loc[0, "ordered_at"] == pd.Timestamp("2024-01-01 12:00", tz="UTC")


BAD_ORDERS_DIR = Path(__file__).resolve().parents[1] / "data" / "bad_orders"
BAD_ORDER_FILES = tomllib.loads((BAD_ORDERS_DIR / "expected.toml").read_text())


@pytest.mark.parametrize("name", sorted(BAD_ORDER_FILES))
def test_bad_order_files_raise_one_line_naming_the_file(name: str) -> None:
    expected = BAD_ORDER_FILES[name]
    with pytest.raises(InputError) as caught:
        read_orders(BAD_ORDERS_DIR / name)
    message = str(caught.value)
    assert expected in message
    assert message.startswith(f"{name}:")
    assert "\n" not in message


def test_bad_value_error_names_column_and_example_row(tmp_path: Path) -> None:
    path = write(
        tmp_path, "o.csv", "customer_id,ordered_at,amount\na,2024-01-01,1\nb,2024-01-02,x\n"
    )
    with pytest.raises(InputError) as caught:
        read_orders(path)
    assert caught.value.column == "amount"
    assert caught.value.row_number == 3
    assert "'customer_id': 'b'" in str(caught.value)


def test_products_customers_contacts(tmp_path: Path) -> None:
    products = read_products(
        write(tmp_path, "p.csv", "sku,category,days_of_supply\nA,coffee,30\nB,gadget,\n")
    )
    assert products["days_of_supply"].isna().tolist() == [False, True]

    customers = read_customers(
        write(
            tmp_path,
            "c.csv",
            "customer_id,timezone,consent_email,consent_wechat,vip\n"
            "a,Asia/Shanghai,yes,1,gold\nb,,false,0,\n",
        )
    )
    assert customers["consent_email"].tolist() == [True, False]
    assert customers["consent_sms"].tolist() == [False, False]  # absent = no consent
    assert customers["timezone"].tolist() == ["Asia/Shanghai", "UTC"]
    assert "vip" in customers.columns  # free-form tags are kept

    contacts = read_contacts(
        write(tmp_path, "t.csv", "customer_id,contacted_at,channel\na,2024-01-01T09:00:00,SMS\n")
    )
    assert contacts.loc[0, "channel"] == "sms"


def test_unknown_timezone_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "customer_id,timezone\na,Mars/Olympus\n")
    with pytest.raises(InputError, match="IANA"):
        read_customers(path)


def test_cdnow_loads_completely(cdnow_path: Path) -> None:
    orders = read_orders(cdnow_path)
    assert len(orders) == 69_659
    assert orders["customer_id"].nunique() == 23_570
    assert orders["ordered_at"].min() == pd.Timestamp("1997-01-01", tz="UTC")


def test_in_memory_frames_get_the_same_contract() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "a"],
            "ordered_at": ["2024-01-01", "2024-02-01T10:00:00"],
            "amount": [1, 2],
        }
    )
    orders = canonical_orders(frame, source="request")
    assert str(orders["ordered_at"].dtype) == "datetime64[ns, UTC]"
    with pytest.raises(InputError, match="request: column 'amount'"):
        canonical_orders(frame.assign(amount=["1", "x"]), source="request")


def test_repeated_order_lines_count_once_and_nothing_else_is_dropped() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["c1"] * 8,
            "ordered_at": ["2024-01-05"] * 8,
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
            "order_id": ["o1", "o1", "o1", "A", "o2", "o2", "o3", "o3"],
            "sku": ["A", "A", "B", "o1", None, None, "A", "B"],
        }
    )
    orders = canonical_orders(frame)
    # o1/A and o2/(no sku) repeat: their first rows stay; (A, o1) is another pair than (o1, A)
    assert orders["amount"].tolist() == [1.0, 3.0, 4.0, 5.0, 7.0, 8.0]


def test_text_is_normalised_whatever_the_storage() -> None:
    """Stripping, blanks and lowercasing give the same values on Arrow text (where byte scans
    may skip them) as on Python objects; the expected values are the rules written out."""
    texts = {
        "customer_id": [" c1", "c2\t", "\u00a0c3\u3000", "c4", "Café"],
        "order_id": ["o1", "o2", "o3", "o4", "o5"],
        "sku": ["A ", "", None, "b", " \u00e9"],
        "channel": ["Web", " app", "WECHAT ", None, "Über"],
        "status": ["Paid", " refunded", "", None, "paid"],
    }
    expected = {
        "customer_id": ["c1", "c2", "c3", "c4", "Café"],
        "sku": ["A", None, None, "b", "\u00e9"],
        "channel": ["web", "app", "wechat", None, "über"],
        "status": ["paid", "refunded", "paid", "paid", "paid"],
    }
    stamps = {"ordered_at": ["2024-01-05"] * 5, "amount": [1.0] * 5}
    for dtype in ("object", "str", "string"):
        frame = pd.DataFrame({k: pd.Series(v, dtype=dtype) for k, v in texts.items()} | stamps)
        orders = canonical_orders(frame)
        for column, values in expected.items():
            got = [None if pd.isna(v) else v for v in orders[column]]
            assert got == values, (dtype, column)
            assert str(orders[column].dtype) == "string"
        # already clean values come back unchanged
        clean = canonical_orders(orders)
        pd.testing.assert_frame_equal(clean, orders)


def test_control_characters_and_long_ids_are_refused_from_arrow_text() -> None:
    base = {"ordered_at": ["2024-01-05"] * 2, "amount": [1.0, 2.0]}
    for ids, why in (
        (["c1", "c\x7f2"], "control characters"),
        (["c1", "c\n2"], "control characters"),
        (["c1", ""], "empty values"),
        (["c1", None], "empty values"),
        (["c1", "x" * 129], "longer than 128"),
    ):
        frame = pd.DataFrame({"customer_id": pd.Series(ids, dtype="str")} | base)
        with pytest.raises(InputError, match=why):
            canonical_orders(frame)
    # 128 characters of two bytes each are 256 bytes, and allowed
    long_ok = pd.DataFrame({"customer_id": pd.Series(["c1", "é" * 128], dtype="str")} | base)
    assert canonical_orders(long_ok)["customer_id"].str.len().max() == 128


def test_parquet_text_columns_come_as_categories_cleaned_like_text(tmp_path: Path) -> None:
    """SKU, channel and status are read from Parquet as categoricals; stripping, blanks,
    lowercasing and the paid default apply to them as to text, and values that become
    equal merge into one category."""
    frame = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5"],
            "ordered_at": ["2024-01-05"] * 5,
            "amount": [1.0] * 5,
            "order_id": ["o1", "o2", "o3", "o4", "o5"],
            "sku": ["A ", "", None, "b", "A"],
            "channel": ["Web", " web", "WECHAT ", None, "Über"],
            "status": ["Paid", " refunded", "", None, "paid"],
        }
    )
    frame.to_parquet(tmp_path / "o.parquet")
    frame.to_csv(tmp_path / "o.csv", index=False)
    from_parquet = read_orders(tmp_path / "o.parquet")
    from_csv = read_orders(tmp_path / "o.csv")
    for column in ("sku", "channel", "status"):
        assert isinstance(from_parquet[column].dtype, pd.CategoricalDtype), column
        assert from_parquet[column].astype("string").equals(from_csv[column]), column
    assert list(from_parquet["channel"].cat.categories) == ["web", "wechat", "über"]
    assert from_parquet["status"].tolist() == ["paid", "refunded", "paid", "paid", "paid"]


def test_parquet_category_errors_name_the_row(tmp_path: Path) -> None:
    base = {"customer_id": ["c1", "c2"], "ordered_at": ["2024-01-05"] * 2, "amount": [1.0, 2.0]}
    pd.DataFrame(base | {"status": ["paid", "lost"]}).to_parquet(tmp_path / "status.parquet")
    with pytest.raises(InputError, match="must be one of") as caught:
        read_orders(tmp_path / "status.parquet")
    assert caught.value.column == "status" and caught.value.row_number == 3
    pd.DataFrame(base | {"sku": ["a", "b\x00"]}).to_parquet(tmp_path / "nul.parquet")
    with pytest.raises(InputError, match="NUL bytes"):
        read_orders(tmp_path / "nul.parquet")

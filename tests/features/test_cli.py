"""`repurchase features` end to end through the Typer app."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from repurchase.cli import app

runner = CliRunner()
ORDERS_CSV = """Customer ID,Order Date,amount,order_id,sku,quantity
a,2024-01-01,10,o1,x,1
a,2024-01-21T10:00:00,20,o2,x,2
b,2024-01-15,5,o3,y,1
a,2024-03-01,99,o4,x,1
"""
PRODUCTS_CSV = "sku,category,days_of_supply\nx,food,15\ny,care,30\n"
CONFIG = """
[columns.orders]
"Customer ID" = "customer_id"
"Order Date" = "ordered_at"

[features]
lifecycle_new_days = 10
"""


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    orders, products, config = (
        tmp_path / "orders.csv",
        tmp_path / "products.csv",
        tmp_path / "c.toml",
    )
    orders.write_text(ORDERS_CSV)
    products.write_text(PRODUCTS_CSV)
    config.write_text(CONFIG)
    return orders, products, config


def test_writes_features_with_column_map_and_products(tmp_path: Path) -> None:
    orders, products, config = _files(tmp_path)
    out = tmp_path / "out" / "features.parquet"
    result = runner.invoke(
        app,
        ["--config", str(config), "features", "--orders", str(orders), "--products",
         str(products), "--as-of", "2024-02-01", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(out).set_index("customer_id")
    assert list(frame.index) == ["a", "b"]  # o4 is after as_of
    assert frame.loc["a", "frequency"] == 1 and frame.loc["a", "T"] == 31
    # a's last purchase: 2 units x 15 days on Jan 21 -> runs out Feb 20
    assert frame.loc["a", "cycle_source"] == "supply"
    assert frame.loc["a", "depletion_date"] == pd.Timestamp("2024-02-20")
    # b bought 17 days ago, once: not "new" with lifecycle_new_days = 10 from the config
    assert frame.loc["b", "lifecycle_stage"] != "new"


def test_csv_output(tmp_path: Path) -> None:
    orders, _, config = _files(tmp_path)
    out = tmp_path / "features.csv"
    result = runner.invoke(
        app, ["--config", str(config), "features", "--orders", str(orders), "--as-of",
              "2024-03-01", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype={"customer_id": str})
    assert frame["customer_id"].tolist() == ["a", "b"]
    assert frame.loc[0, "n_orders"] == 3


def test_bad_input_exits_2_and_leaves_no_file(tmp_path: Path) -> None:
    orders, _, _ = _files(tmp_path)  # without the config the column names do not map
    out = tmp_path / "features.parquet"
    result = runner.invoke(
        app, ["features", "--orders", str(orders), "--as-of", "2024-03-01", "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "customer_id" in result.output
    assert not out.exists() and list(tmp_path.glob(".features*")) == []


def test_bad_feature_config_and_bad_date_exit_2(tmp_path: Path) -> None:
    orders, _, config = _files(tmp_path)
    config.write_text(CONFIG.replace("lifecycle_new_days = 10", "lifecycle_new_dayz = 10"))
    out = tmp_path / "f.csv"
    args = ["features", "--orders", str(orders), "--as-of", "2024-03-01", "--out", str(out)]
    result = runner.invoke(app, ["--config", str(config), *args])
    assert result.exit_code == 2 and "lifecycle_new_dayz" in result.output
    result = runner.invoke(app, [*args[:3], "--as-of", "2024-02-30", *args[5:]])
    assert result.exit_code == 2 and not out.exists()

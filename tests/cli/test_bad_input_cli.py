"""The older bad-orders set (`tests/data/bad_orders/`, shared with the reader's own tests)
through `repurchase features`: exit 2, one line with the expected fragment, no output file.

In-process (CliRunner); `test_bad_files.py` runs a few cases in a real process too.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from .conftest import assert_rejected, invoke

BAD_ORDERS_DIR = Path(__file__).resolve().parents[1] / "data" / "bad_orders"
BAD_ORDER_FILES = tomllib.loads((BAD_ORDERS_DIR / "expected.toml").read_text())


@pytest.mark.parametrize("name", sorted(BAD_ORDER_FILES))
def test_features_command_rejects_bad_orders(workdir: Path, name: str) -> None:
    path = workdir.parent / name
    shutil.copyfile(BAD_ORDERS_DIR / name, path)

    outcome = invoke(["features", "--orders", str(path), "--as-of", "2024-12-31", "--out", "f.csv"])

    assert_rejected(outcome, name, BAD_ORDER_FILES[name])
    assert list(workdir.iterdir()) == []  # no output, no temporary leftovers either


def test_bad_date_option_is_a_usage_error(workdir: Path) -> None:
    path = workdir / "orders.csv"
    path.write_text("customer_id,ordered_at,amount\na,2024-01-01,1\n")
    outcome = invoke(["features", "--orders", str(path), "--as-of", "31/12/2024", "--out", "f.csv"])
    assert (outcome.exit_code, outcome.crash) == (2, None)
    assert "--as-of" in outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert not (workdir / "f.csv").exists()

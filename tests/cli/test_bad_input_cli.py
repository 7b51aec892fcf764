"""Bad files through the real console command: exit 2, one line, no traceback, no output file."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

BAD_ORDERS_DIR = Path(__file__).resolve().parents[1] / "data" / "bad_orders"
BAD_ORDER_FILES = tomllib.loads((BAD_ORDERS_DIR / "expected.toml").read_text())
REPURCHASE = [sys.executable, "-m", "repurchase"]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REPURCHASE, *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.mark.parametrize("name", sorted(BAD_ORDER_FILES))
def test_features_command_rejects_bad_orders(tmp_path: Path, name: str) -> None:
    expected = BAD_ORDER_FILES[name]
    path = tmp_path / name
    shutil.copyfile(BAD_ORDERS_DIR / name, path)
    out = tmp_path / "features.csv"

    result = run_cli(
        "features", "--orders", str(path), "--as-of", "2024-12-31", "--out", str(out), cwd=tmp_path
    )

    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0] and expected in lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary leftovers either


def test_bad_date_option_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,ordered_at,amount\na,2024-01-01,1\n")
    result = run_cli(
        "features", "--orders", str(path), "--as-of", "31/12/2024", "--out", "f.csv", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr

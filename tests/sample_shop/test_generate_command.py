"""`repurchase generate` on the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from repurchase.cli import app

runner = CliRunner()


def test_generate_writes_the_five_files(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["generate", "--customers", "50", "--out", str(tmp_path), "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["contacts.csv", "customers.csv", "orders.csv", "products.csv", "truth.csv"]
    assert "50 rows" in result.output


def test_zero_customers_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--customers", "0", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert not (tmp_path / "x").exists()


def test_bad_dates_are_usage_errors(tmp_path: Path) -> None:
    bad_format = runner.invoke(
        app, ["generate", "--customers", "5", "--out", str(tmp_path), "--start", "2025-13-01"]
    )
    assert bad_format.exit_code == 2
    backwards = runner.invoke(
        app,
        ["generate", "--customers", "5", "--out", str(tmp_path),
         "--start", "2025-06-01", "--end", "2025-01-01"],
    )  # fmt: skip
    assert backwards.exit_code == 2
    assert "must be after" in backwards.output
    assert not list(tmp_path.iterdir())


def test_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    result = runner.invoke(app, ["generate", "--customers", "5", "--out", str(blocker)])
    assert result.exit_code == 2
    assert blocker.read_text() == "x"

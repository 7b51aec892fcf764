"""`repurchase plan --scores ...` and `repurchase policy show` through Typer's CliRunner."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest
from policy_helpers import AS_OF, assert_plan_obeys_policy, synthetic_shop
from typer.testing import CliRunner

from features.tables import read_contacts, read_customers, read_orders
from repurchase.cli import app
from serving.policy import PLAN_COLUMNS, PolicyConfig, load_policy

runner = CliRunner()


@pytest.fixture(scope="module")
def shop_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("shop")
    shop = synthetic_shop(300, seed=21)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    orders = shop["orders"].assign(ordered_at=shop["orders"]["ordered_at"].dt.strftime(iso))
    contacts = shop["contacts"].assign(
        contacted_at=shop["contacts"]["contacted_at"].dt.strftime(iso)
    )
    paths = {name: folder / f"{name}.csv" for name in ("orders", "customers", "contacts", "scores")}
    orders.to_csv(paths["orders"], index=False)
    contacts.to_csv(paths["contacts"], index=False)
    shop["customers"].to_csv(paths["customers"], index=False)
    shop["scores"].to_csv(paths["scores"], index=False)
    policy = folder / "policy.toml"
    policy.write_text("holdout_fraction = 0.2\n[daily_capacity]\nwechat = 5\nemail = 8\n")
    paths["policy"] = policy
    return paths


def plan_args(files: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "plan",
        "--orders",
        str(files["orders"]),
        "--customers",
        str(files["customers"]),
        "--contacts",
        str(files["contacts"]),
        "--scores",
        str(files["scores"]),
        "--as-of",
        AS_OF.isoformat(),
        "--out",
        str(out),
        *extra,
    ]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_plan_from_a_score_file(shop_files: dict[str, Path], tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"plan{suffix}"
    result = runner.invoke(app, plan_args(shop_files, out, "--policy", str(shop_files["policy"])))
    assert result.exit_code == 0, result.output
    assert "to contact" in result.output and "hold-out" in result.output
    plan = (
        pd.read_csv(out, dtype={"customer_id": "string"})
        if suffix == ".csv"
        else pd.read_parquet(out)
    )
    assert list(plan.columns) == PLAN_COLUMNS
    assert len(plan) > 50
    assert plan["holdout"].any()
    # The written file, read back as a user would, still obeys the policy.
    assert_plan_obeys_policy(
        plan,
        read_orders(shop_files["orders"]),
        read_customers(shop_files["customers"]),
        read_contacts(shop_files["contacts"]),
        load_policy(shop_files["policy"]),
    )


def test_bad_policy_exits_2_and_writes_nothing(shop_files: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("allowed_hours = [22, 6]\n")
    out = tmp_path / "plan.csv"
    result = runner.invoke(app, plan_args(shop_files, out, "--policy", str(bad)))
    assert result.exit_code == 2
    assert "allowed_hours" in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]  # no temporary file left either


def test_score_file_without_required_column_exits_2(
    shop_files: dict[str, Path], tmp_path: Path
) -> None:
    scores = tmp_path / "scores.csv"
    pd.read_csv(shop_files["scores"]).drop(columns="lifecycle_stage").to_csv(scores, index=False)
    files = {**shop_files, "scores": scores}
    result = runner.invoke(app, plan_args(files, tmp_path / "plan.csv"))
    assert result.exit_code == 2
    assert "lifecycle_stage" in result.output and "scores.csv" in result.output


def test_score_file_with_a_bad_date_exits_2(shop_files: dict[str, Path], tmp_path: Path) -> None:
    scores = tmp_path / "scores.csv"
    frame = pd.read_csv(shop_files["scores"])
    frame.loc[3, "next_purchase_date"] = "next tuesday"
    frame.to_csv(scores, index=False)
    result = runner.invoke(app, plan_args({**shop_files, "scores": scores}, tmp_path / "plan.csv"))
    assert result.exit_code == 2
    assert "next tuesday" in result.output


def test_bad_output_suffix_and_date_exit_2(shop_files: dict[str, Path], tmp_path: Path) -> None:
    assert runner.invoke(app, plan_args(shop_files, tmp_path / "plan.txt")).exit_code == 2
    args = plan_args(shop_files, tmp_path / "plan.csv")
    args[args.index("--as-of") + 1] = "31/03/2026"
    assert runner.invoke(app, args).exit_code == 2


def test_policy_show_prints_defaults_as_toml() -> None:
    result = runner.invoke(app, ["policy", "show"])
    assert result.exit_code == 0, result.output
    printed = tomllib.loads(result.output)
    assert printed["quiet_days_after_purchase"] == 7
    assert printed["allowed_hours"] == [9, 21]
    assert printed["daily_capacity"] == {"wechat": 500}
    assert PolicyConfig.model_validate(printed) == PolicyConfig()


def test_policy_show_merges_the_file(shop_files: dict[str, Path]) -> None:
    result = runner.invoke(app, ["policy", "show", "--policy", str(shop_files["policy"])])
    assert result.exit_code == 0, result.output
    printed = tomllib.loads(result.output)
    assert printed["holdout_fraction"] == 0.2
    assert printed["daily_capacity"] == {"wechat": 5, "email": 8}
    assert printed["lead_days"] == 3


def test_every_option_has_help() -> None:
    for command in (["plan", "--help"], ["policy", "show", "--help"], ["policy", "--help"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0
    plan_help = runner.invoke(app, ["plan", "--help"]).output
    for option in (
        "--orders",
        "--customers",
        "--contacts",
        "--as-of",
        "--out",
        "--policy",
        "--scores",
    ):
        assert option in plan_help


@pytest.mark.parametrize(
    ("scores_out", "message"),
    [("scores.parquet", "drop --scores"), ("scores.txt", "must end in .csv or .parquet")],
)
def test_scores_out_with_a_score_file_or_a_bad_name_exits_2(
    shop_files: dict[str, Path], tmp_path: Path, scores_out: str, message: str
) -> None:
    out = tmp_path / "plan.csv"
    result = runner.invoke(
        app, plan_args(shop_files, out, "--scores-out", str(tmp_path / scores_out))
    )
    assert result.exit_code == 2
    assert message in result.output
    assert list(tmp_path.iterdir()) == []

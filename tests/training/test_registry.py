"""The MLflow lifecycle end to end, through the real CLI and a real SQLite tracking store.

One module-scoped registry: `repurchase train` on a small generated shop, `promote`, then
checks on what a data scientist and a batch job see: the run (metrics of the model and
every baseline, report, dataset input, tags), the aliases, the pyfunc model against
`repurchase score`, a worse challenger that must not take `champion`, and bad input that
must not leave a version behind.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from features.tables import read_orders
from repurchase.sample_shop import generate_shop, write_shop
from repurchase.settings import get_settings
from serving.api.model_holder import ModelHolder
from training.pyfunc_model import to_model_input

CLI = [sys.executable, "-m", "repurchase"]
MODEL = "repurchase"


@dataclass
class Registry:
    root: Path
    env: dict[str, str]
    shop: dict[str, Path]
    as_of: str
    client: MlflowClient

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], cwd=self.root, env=self.env, capture_output=True, text=True, timeout=600
        )

    def versions(self) -> list[str]:
        found = self.client.search_model_versions(f"name='{MODEL}'")
        return sorted(str(v.version) for v in found)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    root = tmp_path_factory.mktemp("registry")
    shop = write_shop(generate_shop(500, seed=5), root / "shop")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    env = {
        **os.environ,
        "REPURCHASE_MLFLOW_TRACKING_URI": tracking_uri,
        "REPURCHASE_MLFLOW_ARTIFACT_ROOT": str(root / "artifacts"),
        "REPURCHASE_HOME": str(root / "var"),
    }
    as_of = read_orders(shop["orders"])["ordered_at"].max().date().isoformat()
    reg = Registry(root, env, shop, as_of, MlflowClient(tracking_uri, tracking_uri))
    trained = reg.run("train", "--orders", str(shop["orders"]), "--products", str(shop["products"]))
    assert trained.returncode == 0, trained.stderr
    promoted = reg.run("promote")
    assert promoted.returncode == 0, promoted.stderr
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    yield reg
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])


def test_train_logs_a_run_with_baselines_report_and_data_and_registers_a_challenger(
    registry: Registry,
) -> None:
    version = registry.client.get_model_version_by_alias(MODEL, "challenger")
    run = registry.client.get_run(version.run_id)
    metrics = run.data.metrics
    for method in ("model", "pareto_nbd", "bg_nbd", "recency_rank", "median_interval"):
        for horizon in (7, 30, 90):
            assert 0.5 < metrics[f"{method}.p_buy_{horizon}d.roc_auc"] <= 1.0
    assert 0 < metrics["model.p_buy_30d.brier"] < 0.25
    artifacts = {a.path for a in registry.client.list_artifacts(run.info.run_id)}
    assert {"backtest_report.html", "metrics.json"} <= artifacts
    report = registry.client.download_artifacts(run.info.run_id, "backtest_report.html")
    assert "pareto" in Path(report).read_text().lower()
    assert run.inputs.dataset_inputs, "the training data is logged as an MLflow dataset"
    for tags in (run.data.tags, version.tags):
        assert tags["as_of"] == registry.as_of
        assert tags["git_commit"]
        assert tags["protocol"].startswith("backtest-")


def test_first_version_becomes_champion_with_the_reason_recorded(registry: Registry) -> None:
    champion = registry.client.get_model_version_by_alias(MODEL, "champion")
    assert str(champion.version) == "1"
    assert "first champion" in champion.tags["promotion_decision"]


def test_pyfunc_champion_equals_repurchase_score(registry: Registry) -> None:
    out = registry.root / "scores.csv"
    scored = registry.run(
        "score", "--orders", str(registry.shop["orders"]), "--as-of", registry.as_of,
        "--out", str(out),
    )  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    assert "champion" in scored.stderr
    from_cli = pd.read_csv(out, dtype={"customer_id": str})

    model = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    orders = read_orders(registry.shop["orders"])
    from_pyfunc = model.predict(
        to_model_input(orders), params={"as_of": registry.as_of, "model_version": "1"}
    )
    assert len(from_pyfunc) == len(from_cli) > 400
    assert list(from_cli.columns) == list(from_pyfunc.columns)
    probabilities = [c for c in from_cli.columns if c.startswith("p_")]
    np.testing.assert_allclose(
        from_cli[probabilities].to_numpy(), from_pyfunc[probabilities].to_numpy(), atol=1e-9
    )
    np.testing.assert_allclose(
        from_cli["predicted_value_365d"], from_pyfunc["predicted_value_365d"], rtol=1e-6
    )
    for column in ("customer_id", "next_purchase_date", "rfm_segment", "model_version"):
        assert from_cli[column].astype(str).tolist() == from_pyfunc[column].astype(str).tolist()

    # The API scores through the model's in-process `score` (no MLflow input conversion):
    # the same rows, to the last digit.
    holder = ModelHolder(get_settings(), uri="champion", loader=lambda uri: (model, "1"))
    holder.load()
    from_api = holder.score(orders, dt.date.fromisoformat(registry.as_of))
    pd.testing.assert_frame_equal(
        from_api.reset_index(drop=True), pd.DataFrame(from_pyfunc).reset_index(drop=True)
    )


def test_a_worse_challenger_does_not_take_champion_without_force(registry: Registry) -> None:
    # Worse data: every order's date shuffled across the shop, so history predicts nothing.
    orders = read_orders(registry.shop["orders"])
    rng = np.random.default_rng(0)
    shuffled = orders.assign(ordered_at=rng.permutation(orders["ordered_at"].to_numpy()))
    worse = registry.root / "worse_orders.parquet"
    shuffled.to_parquet(worse, index=False)

    trained = registry.run("train", "--orders", str(worse), "--as-of", registry.as_of)
    assert trained.returncode == 0, trained.stderr
    challenger = registry.client.get_model_version_by_alias(MODEL, "challenger")
    assert str(challenger.version) != "1"

    kept = registry.run("promote")
    assert kept.returncode == 0, kept.stderr
    assert "not promoted" in kept.stdout
    assert str(registry.client.get_model_version_by_alias(MODEL, "champion").version) == "1"
    decision = registry.client.get_model_version(MODEL, challenger.version).tags
    assert decision["promotion_decision"].startswith("worse than the champion")

    forced = registry.run("promote", "--force")
    assert forced.returncode == 0, forced.stderr
    champion = registry.client.get_model_version_by_alias(MODEL, "champion")
    assert champion.version == challenger.version
    # put the good model back for any later test
    assert registry.run("promote", "--version", "1", "--force").returncode == 0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("no_amount.csv", "order_id,customer_id,ordered_at\no1,c1,2024-01-01\n"),
        ("bad_date.csv", "order_id,customer_id,ordered_at,amount\no1,c1,yesterday,10\n"),
    ],
)
def test_bad_input_to_train_leaves_no_version_and_no_run(
    registry: Registry, name: str, content: str
) -> None:
    before_versions = registry.versions()
    before_runs = len(mlflow.search_runs(search_all_experiments=True))
    bad = registry.root / name
    bad.write_text(content)

    result = registry.run("train", "--orders", str(bad))

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert registry.versions() == before_versions
    assert len(mlflow.search_runs(search_all_experiments=True)) == before_runs


def test_nothing_to_learn_leaves_no_version(registry: Registry) -> None:
    # A valid file in which nobody ever comes back: no repeat purchase to learn from.
    orders = read_orders(registry.shop["orders"]).sort_values("ordered_at")
    first_orders = orders.loc[~orders["customer_id"].duplicated()]
    path = registry.root / "one_time_buyers.parquet"
    first_orders.to_parquet(path, index=False)
    before = registry.versions()

    result = registry.run("train", "--orders", str(path), "--as-of", registry.as_of)

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert registry.versions() == before


def test_score_refuses_an_explicit_model_trained_after_as_of(registry: Registry) -> None:
    out = registry.root / "early.csv"
    result = registry.run(
        "score", "--orders", str(registry.shop["orders"]), "--as-of", "2025-06-30",
        "--out", str(out), "--model", f"models:/{MODEL}@champion",
    )  # fmt: skip
    assert result.returncode == 2
    assert "seen what it would predict" in result.stderr
    assert not out.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_mlflow_models_serve_answers_like_the_pyfunc(registry: Registry) -> None:
    """`mlflow models serve` is a working alternative server for the champion."""
    port = _free_port()
    tracking_uri = registry.env["REPURCHASE_MLFLOW_TRACKING_URI"]
    # MLflow starts `uvicorn` by name: the environment's bin folder must be on PATH
    # (`make mlflow-serve` does the same).
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {
        **registry.env,
        "PATH": path,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_REGISTRY_URI": tracking_uri,
    }
    command = [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{MODEL}@champion",
        "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=registry.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            try:
                if httpx.get(f"{base}/ping", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        orders = read_orders(registry.shop["orders"])
        some = orders.loc[orders["customer_id"].isin(orders["customer_id"].unique()[:25])]
        model_input = to_model_input(some)
        body = model_input.assign(ordered_at=model_input["ordered_at"].astype(str))
        body = body.astype(object).where(body.notna(), None)
        params = {"as_of": registry.as_of, "model_version": "1"}
        response = httpx.post(
            f"{base}/invocations",
            json={"dataframe_split": body.to_dict(orient="split", index=False), "params": params},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        served = pd.DataFrame(response.json()["predictions"])
    finally:
        server.terminate()
        server.wait(timeout=30)

    expected = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion").predict(
        model_input, params=params
    )
    assert served["customer_id"].tolist() == expected["customer_id"].tolist()
    probabilities = [c for c in expected.columns if c.startswith("p_")]
    np.testing.assert_allclose(
        served[probabilities].to_numpy(float), expected[probabilities].to_numpy(float), atol=1e-9
    )

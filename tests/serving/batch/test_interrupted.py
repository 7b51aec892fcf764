"""A batch run killed midway leaves no output, and the re-run succeeds with the full output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from training.labels import orders_up_to
from training.predict import score_customers
from training.train import TrainedModel

from .conftest import AS_OF


def _score_command(orders: Path, products: Path, model: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "repurchase", "score", "--orders", str(orders),
        "--products", str(products), "--as-of", AS_OF.isoformat(), "--model", str(model),
        "--out", str(out), "--partition-rows", "500",
    ]  # fmt: skip


@pytest.mark.slow
def test_sigkill_after_a_partition_leaves_no_output_and_the_rerun_succeeds(
    shop_files: dict[str, Path],
    shop_orders: pd.DataFrame,
    shop_products: pd.DataFrame,
    batch_model: TrainedModel,
    model_file: Path,
    batch_home: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "scores.parquet"
    command = _score_command(shop_files["orders"], shop_files["products"], model_file, out)
    env = {**os.environ, "REPURCHASE_HOME": str(batch_home)}  # its compiled trees
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    assert child.stderr is not None
    seen = []
    for line in child.stderr:
        seen.append(line)
        if "partition 1/" in line:  # the first partition is in the output's temporary file
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, "".join(seen)
    assert not out.exists()
    left = [p.name for p in tmp_path.iterdir() if ".batch-" in p.name]
    assert left, "a killed run cannot clean up: its scratch should be there"

    rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)

    assert rerun.returncode == 0, rerun.stderr
    assert not [p.name for p in tmp_path.iterdir() if ".batch-" in p.name]  # stale ones gone
    scores = pd.read_parquet(out).sort_values("customer_id").reset_index(drop=True)
    expected = score_customers(
        batch_model, orders_up_to(shop_orders, AS_OF), AS_OF, shop_products,
        model_version=model_file.stem,
    )  # fmt: skip
    expected.to_parquet(tmp_path / "expected.parquet", index=False)
    expected = pd.read_parquet(tmp_path / "expected.parquet").sort_values("customer_id")
    pd.testing.assert_frame_equal(scores, expected.reset_index(drop=True), rtol=1e-9)

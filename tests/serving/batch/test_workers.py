"""How many worker processes a batch run uses, how big its partitions are, and how the model
reaches the workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from serving.batch import workers
from serving.batch.workers import AUTO, ModelParcel, WorkerPool, batch_shape, unpacked
from training.train import TrainedModel


def test_a_small_file_stays_in_one_process_with_the_whole_budget(
    shop_files: dict[str, Path],
) -> None:
    # the sample shop has a few thousand rows: far below AUTO_WORKERS_MIN_ROWS
    assert batch_shape(shop_files["orders"], None, AUTO) == (workers.ROWS_IN_FLIGHT, 1)


def test_a_large_file_gets_one_worker_per_core_sharing_the_rows_in_flight(
    shop_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers, "AUTO_WORKERS_MIN_ROWS", 100)
    monkeypatch.setattr(workers, "cores", lambda: 4)
    assert batch_shape(shop_files["orders"], None, AUTO) == (workers.ROWS_IN_FLIGHT // 4, 4)
    # what the caller set is kept
    assert batch_shape(shop_files["orders"], 7_000, AUTO) == (7_000, 4)
    assert batch_shape(shop_files["orders"], None, 2) == (workers.ROWS_IN_FLIGHT // 2, 2)
    assert batch_shape(shop_files["orders"], 123, 1) == (123, 1)


def test_a_parcel_is_unpickled_once_per_model_in_a_worker(batch_model: TrainedModel) -> None:
    parcel = ModelParcel.of(batch_model, compile_trees=False)
    first = unpacked(parcel)
    assert unpacked(parcel) is first  # the same digest: kept
    assert isinstance(first, TrainedModel)
    other = ModelParcel(parcel.digest[::-1], parcel.payload, compile_trees=False)
    assert unpacked(other) is not first  # another model: loaded anew
    assert unpacked(other).trained_as_of == batch_model.trained_as_of


def test_one_worker_means_no_processes() -> None:
    with WorkerPool(1) as pool:
        assert not pool.running
        with pytest.raises(RuntimeError, match="no worker processes"):
            pool.submit(print)


def test_a_pool_runs_tasks_in_other_processes() -> None:
    import os

    with WorkerPool(2) as pool:
        assert pool.running
        pids = {pool.submit(os.getpid).result() for _ in range(4)}
    assert os.getpid() not in pids


def test_worker_processes_draft_the_one_process_plan(
    shop_files: dict[str, Path], shop_products: pd.DataFrame, model_file: Path, tmp_path: Path
) -> None:
    """Drafting runs where a partition is scored: in the workers, the plan and the score
    file are those of one process."""
    from serving.batch import plan_file
    from serving.policy import load_policy

    from .conftest import AS_OF

    outputs = {}
    for count in (1, 2):
        plan, scores = tmp_path / f"plan_{count}.parquet", tmp_path / f"scores_{count}.parquet"
        result = plan_file(
            shop_files["orders"], AS_OF, plan, policy=load_policy(None), model=str(model_file),
            products=shop_products, partition_rows=600, workers=count, scores_out=scores,
            log=lambda _message: None,
        )  # fmt: skip
        assert result.batch.partitions >= 4
        outputs[count] = (pd.read_parquet(plan), pd.read_parquet(scores))
    pd.testing.assert_frame_equal(outputs[2][0], outputs[1][0])
    pd.testing.assert_frame_equal(outputs[2][1], outputs[1][1])
    assert len(outputs[1][0]) > 0


def test_workers_exit_when_their_parent_is_killed(tmp_path: Path) -> None:
    """SIGKILL gives the parent no chance to stop its pool: the workers notice and exit
    rather than score on as orphans."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    script = tmp_path / "parent.py"
    # spawned workers import the main script again: the guard keeps them from running it
    script.write_text(
        "import os, time\n"
        "from serving.batch.workers import WorkerPool\n"
        "if __name__ == '__main__':\n"
        "    with WorkerPool(2) as pool:\n"
        "        pids = {pool.submit(os.getpid).result() for _ in range(8)}\n"
        "        busy = [pool.submit(time.sleep, 120) for _ in range(2)]\n"
        "        print(*pids, flush=True)\n"
        "        time.sleep(120)\n",
        encoding="utf-8",
    )
    root = Path(__file__).resolve().parents[3]
    parent = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        assert parent.stdout is not None
        reported = {int(pid) for pid in parent.stdout.readline().split()}
        children = psutil.Process(parent.pid).children(recursive=True)
        assert reported <= {c.pid for c in children}  # the workers, and Python's helpers
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(c.is_running() for c in children):
        time.sleep(0.2)
    alive = [c.pid for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert alive == []


def test_a_batch_process_keeps_its_freed_memory_and_can_give_it_back() -> None:
    # in a process of its own: the settings last for the life of the process
    code = """
import platform, resource
import numpy as np
from serving.batch.workers import keep_freed_memory, release_freed_memory

def faults_of_a_big_block() -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = np.ones(50_000_000 // 8)  # every page written
    del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

glibc = platform.libc_ver()[0] == "glibc"
assert faults_of_a_big_block() > 1_000  # by default a block over 32 MB gets fresh pages
assert keep_freed_memory() == glibc
faults_of_a_big_block()
if glibc:  # from now on its pages are reused, not asked of the kernel again
    assert faults_of_a_big_block() < 100
release_freed_memory()
print("ok")
"""
    # 4 kB pages, so that the faults count pages (numpy would ask for 2 MB ones)
    env = {**os.environ, "NUMPY_MADVISE_HUGEPAGE": "0"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"

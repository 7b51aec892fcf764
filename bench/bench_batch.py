"""Benchmark: `repurchase score` + `repurchase plan` end to end vs the DuckDB SQL RFM reference.

    python bench/bench_batch.py --orders 10000000 --customers 3500000 --work var/bench

1. Reuses (or generates, once) the synthetic orders Parquet file of ``bench_features.py``.
2. Trains a model once on a slice of whole customers (cached in the work folder; the model
   is not what is measured, scoring with it is). The cache is stamped with a digest of the
   model code (``features``, ``models``, ``training``); a model trained by other code is
   trained again, so the bench never times a stale model.
3. Runs, each as its own subprocess, timed from start to exit with the child's peak RSS
   (``os.wait4``): the DuckDB reference of ``bench_features.py``, ``repurchase score`` (the
   file -> a Parquet score file), ``repurchase plan --scores`` (that score file -> plan),
   and ``repurchase plan --scores-out`` (the nightly job in one pass: file -> scores and
   plan).
4. Prints time, peak memory, rows per second and the ratio to DuckDB of score + plan and of
   the one pass; targets: at most 10x the reference time, at most 4 GB peak memory.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TIME_TARGET = 10.0
MEMORY_TARGET_GB = 4.0
SLICE_CUSTOMERS = 4_000  # customers the cached model is trained on


def train_slice_model(
    orders: Path, products: Path, model_path: Path, as_of: str, *, btyd: bool = True
) -> None:
    """Fit a model on about `SLICE_CUSTOMERS` whole customers of the file and save it."""
    import joblib
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from features.tables import canonical_orders, read_products
    from training.train import fit_model

    table = pq.read_table(orders)
    n_customers = len(pc.unique(table["customer_id"]))
    step = max(n_customers // SLICE_CUSTOMERS, 1)
    number = pc.cast(pc.utf8_slice_codeunits(table["customer_id"], 1), "int64").to_numpy()
    table = table.filter(pa.array(number % step == 0))
    frame = canonical_orders(table.to_pandas(), source=orders)
    model = fit_model(
        frame, as_of, read_products(products), max_snapshots=6, use_btyd_features=btyd
    )
    model_path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_path)


# The packages whose code decides what a trained model is and which columns it reads.
MODEL_CODE = ("features", "models", "training")


def model_code_digest(root: Path) -> str:
    """sha256 over the model code's sources: the cached model is measured only while the
    code that trained it is the code in the checkout (a stale model would time the wrong
    features and trees)."""
    digest = hashlib.sha256()
    for package in MODEL_CODE:
        for source in sorted((root / package).rglob("*.py")):
            digest.update(str(source.relative_to(root)).encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


def model_stamp(model_path: Path) -> Path:
    return model_path.with_suffix(".code-sha256")


def model_is_current(model_path: Path, root: Path) -> bool:
    stamp = model_stamp(model_path)
    return stamp.exists() and stamp.read_text().strip() == model_code_digest(root)


def precompile(model_path: Path, cache: Path) -> None:
    """Compile the model's trees into the cache the measured runs use: compiling happens
    once per model version, not per nightly run, so it is not part of the measured time."""
    import joblib

    from serving.batch.compiled import compiled_model

    compiled_model(joblib.load(model_path), cache)


def run_measured(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run `command`; its wall time and peak memory: the larger of the child's own peak RSS
    (wait4) and the peak of the summed RSS of the child and its worker processes, sampled
    every 0.2 s (wait4 reports the largest single process, not the sum, with --workers)."""
    import tempfile
    import threading

    import psutil

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        tree_peak = [0]
        done = threading.Event()

        def sample() -> None:
            with contextlib.suppress(psutil.Error):
                parent = psutil.Process(child.pid)
                while not done.wait(0.2):
                    total = 0
                    for process in [parent, *parent.children(recursive=True)]:
                        with contextlib.suppress(psutil.Error):
                            total += process.memory_info().rss
                    tree_peak[0] = max(tree_peak[0], total)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak RSS
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if child.returncode != 0:
        sys.stderr.write(stderr)
        raise SystemExit(f"{' '.join(command[:4])} ... failed with exit {child.returncode}")
    print(stdout.strip())
    return {
        "process_s": seconds,
        "peak_rss_gb": max(usage.ru_maxrss * 1024, tree_peak[0]) / 1024**3,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000_000, help="order rows")
    parser.add_argument("--customers", type=int, default=3_500_000, help="distinct customers")
    parser.add_argument("--work", type=Path, default=Path("var/bench"), help="cache/output dir")
    parser.add_argument(
        "--partition-rows", type=int, help="order rows per partition (default: the CLI's)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="`score --workers`: partitions scored at a time (default 0: the CLI's auto, one "
        "per core on a file this size)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--no-btyd",
        action="store_true",
        help="a model without the BG/NBD and Pareto/NBD features (their series dominate "
        "scoring time: ~0.4 ms per repeat customer)",
    )
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(root), str(root / "bench")]  # run from a checkout without installing
    import bench_features
    import pyarrow.parquet as pq

    work = args.work / f"o{args.orders}_c{args.customers}"
    orders, products = work / "orders.parquet", work / "products.parquet"
    if not orders.exists():
        print(f"generating {args.orders:,} orders over {args.customers:,} customers in {work} ...")
        bench_features.generate(orders, products, args.orders, args.customers)
    model = work / ("batch_model_nobtyd.joblib" if args.no_btyd else "batch_model.joblib")
    if model.exists() and not model_is_current(model, root):
        print(f"the cached model predates the model code: retraining ({model})")
        model.unlink()
    if not model.exists():
        print(f"training the model once on ~{SLICE_CUSTOMERS:,} customers (cached: {model}) ...")
        t0 = time.perf_counter()
        train_slice_model(orders, products, model, bench_features.AS_OF, btyd=not args.no_btyd)
        model_stamp(model).write_text(model_code_digest(root))
        print(f"  trained in {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    precompile(model, work / "home" / "compiled")
    print(f"  trees compiled (or found in the cache) in {time.perf_counter() - t0:.0f} s")
    n_rows = pq.ParquetFile(orders).metadata.num_rows
    env = {**os.environ, "REPURCHASE_HOME": str(work / "home"), "PYTHONPATH": str(root)}
    common = ["--as-of", bench_features.AS_OF]
    if args.partition_rows is not None:
        common += ["--partition-rows", str(args.partition_rows)]
    scores, plan = work / "batch_scores.parquet", work / "batch_plan.parquet"
    one_pass_scores, one_pass_plan = (
        work / "one_pass_scores.parquet",
        work / "one_pass_plan.parquet",
    )
    print(f"model: {model.name}")
    load_before = os.getloadavg()[0]
    results = {
        "duckdb": bench_features.measure("duckdb", work),
        "score": run_measured(
            [sys.executable, "-m", "repurchase", "score", "--orders", str(orders),
             "--products", str(products), "--model", str(model), "--out", str(scores),
             "--workers", str(args.workers), *common],
            env,
        ),
        "plan": run_measured(
            [sys.executable, "-m", "repurchase", "plan", "--orders", str(orders),
             "--scores", str(scores), "--out", str(plan), *common],
            env,
        ),
        # the nightly job in one command: one read of the orders, scores and plan written
        "one-pass": run_measured(
            [sys.executable, "-m", "repurchase", "plan", "--orders", str(orders),
             "--products", str(products), "--model", str(model), "--out", str(one_pass_plan),
             "--scores-out", str(one_pass_scores), "--workers", str(args.workers), *common],
            env,
        ),
    }  # fmt: skip
    load_after = os.getloadavg()[0]
    duck, score, planned = results["duckdb"], results["score"], results["plan"]
    end_to_end = score["process_s"] + planned["process_s"]
    peak = max(score["peak_rss_gb"], planned["peak_rss_gb"])
    customers = pq.ParquetFile(scores).metadata.num_rows
    print(f"{n_rows:,} order rows, {customers:,} customers scored; plan rows: "
          f"{pq.ParquetFile(plan).metadata.num_rows:,}")  # fmt: skip
    print(f"{'run':<8}{'time (s)':>10}{'CPU (s)':>10}{'peak RSS (GB)':>15}{'rows/s':>12}")
    for kind, result in results.items():
        print(
            f"{kind:<8}{result['process_s']:>10.1f}{result['cpu_s']:>10.1f}"
            f"{result['peak_rss_gb']:>15.2f}{n_rows / result['process_s']:>12,.0f}"
        )
    ratio = end_to_end / duck["process_s"]
    print(
        f"score + plan: {end_to_end:.1f} s, {n_rows / end_to_end:,.0f} rows/s; ratio to "
        f"DuckDB {ratio:.1f} (target <= {TIME_TARGET:g}); peak memory {peak:.2f} GB "
        f"(target <= {MEMORY_TARGET_GB:g} GB); load average {load_before:.1f} -> "
        f"{load_after:.1f} on {os.cpu_count()} cores"
    )
    one_pass = results["one-pass"]
    one_pass_ratio = one_pass["process_s"] / duck["process_s"]
    print(
        f"plan --scores-out (one pass): {one_pass['process_s']:.1f} s, ratio to DuckDB "
        f"{one_pass_ratio:.1f}; peak memory {one_pass['peak_rss_gb']:.2f} GB"
    )
    best = min(ratio, one_pass_ratio)
    met = best <= TIME_TARGET and max(peak, one_pass["peak_rss_gb"]) <= MEMORY_TARGET_GB
    print("targets met" if met else "targets NOT met")
    if args.json:
        figures: dict[str, dict[str, float]] = dict(results)
        figures["summary"] = {"rows": n_rows, "customers": customers, "ratio": ratio,
                              "end_to_end_s": end_to_end, "peak_rss_gb": peak,
                              "one_pass_ratio": one_pass_ratio,
                              "load_before": load_before, "load_after": load_after}  # fmt: skip
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

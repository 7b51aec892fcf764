"""Train, log and register a model in MLflow; promote challengers; load a model by URI.

One `train` = one MLflow run holding: parameters, the data's fingerprint (an MLflow dataset
input plus tags), the backtest metrics of the model and of every baseline, the HTML report,
and the pyfunc model. The run's model becomes a new version of the registered model with the
alias `challenger`. Nothing is registered unless every step before it succeeded, so bad input
never leaves a half-registered version.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import mlflow
import pandas as pd
from mlflow.data.pandas_dataset import from_pandas
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from features.errors import InputError
from repurchase.cli_support import atomic_path
from repurchase.settings import Settings
from training.promotion import Decision, decide
from training.pyfunc_model import MODEL_ARTIFACT, PRODUCTS_ARTIFACT, RepurchasePyfunc, signature
from training.tracking import configure_tracking, ensure_experiment

CHALLENGER = "challenger"
CHAMPION = "champion"
# Bump when metric definitions, horizons or the evaluation window change: versions trained
# under different protocols are not compared automatically.
PROTOCOL = "backtest-v1:h7-14-30-60-90:eval90"
EVALUATION_DAYS = 90

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOutcome:
    run_id: str
    version: str
    metrics: dict[str, float]
    report_path: Path | None


def data_fingerprint(orders: pd.DataFrame, source: Path | None) -> dict[str, str]:
    """Rows, customers, date range and a content hash: enough to know which data trained a model."""
    if source is not None and source.is_file():
        digest = hashlib.sha256()
        with open(source, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        content_hash = digest.hexdigest()
    else:
        hashed = pd.util.hash_pandas_object(orders, index=False).to_numpy()
        content_hash = hashlib.sha256(hashed.tobytes()).hexdigest()
    return {
        "data.rows": str(len(orders)),
        "data.customers": str(orders["customer_id"].nunique()),
        "data.first_order": str(orders["ordered_at"].min().date()),
        "data.last_order": str(orders["ordered_at"].max().date()),
        "data.sha256": content_hash,
        "data.source": str(source) if source else "in-memory",
    }


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def train_and_register(
    orders: pd.DataFrame,
    as_of: dt.date,
    settings: Settings,
    *,
    products: pd.DataFrame | None = None,
    source: Path | None = None,
    report_dir: Path | None = None,
    fit: Callable[..., Any] | None = None,
) -> TrainOutcome:
    """Backtest, fit on everything up to `as_of`, log one run and register a challenger.

    With `report_dir`, the HTML backtest report is also kept there (besides the run). `fit`
    replaces :func:`training.train.fit_model` for the registered model (same arguments and
    result type), e.g. :func:`training.distributed.train_with_dask`.
    """
    from training.backtest import run_backtest
    from training.report import write_report
    from training.train import fit_model

    backtest_as_of = as_of - dt.timedelta(days=EVALUATION_DAYS)
    # Evaluate first: the model's recorded quality comes from data it did not see.
    result = run_backtest(orders, backtest_as_of, products)
    model = (fit or fit_model)(orders, as_of, products)

    client = configure_tracking(settings)
    experiment_id = ensure_experiment(client, settings)
    fingerprint = data_fingerprint(orders, source)
    tags = {
        "as_of": as_of.isoformat(),
        "backtest_as_of": backtest_as_of.isoformat(),
        "protocol": PROTOCOL,
        "horizons": "7,14,30,60,90",
        "churn_days": str(settings.churn_days),
        "git_commit": git_commit(),
        **fingerprint,
    }
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{as_of}") as run:
            mlflow.set_tags(tags)
            mlflow.log_params(
                {
                    "as_of": as_of.isoformat(),
                    "backtest_as_of": backtest_as_of.isoformat(),
                    "evaluation_days": EVALUATION_DAYS,
                    "churn_days": settings.churn_days,
                    "seed": settings.seed,
                    "with_products": products is not None,
                }
            )
            with _quiet_mlflow_advice():
                dataset = from_pandas(orders, source=str(source or "in-memory"), name="orders")
                mlflow.log_input(dataset, context="training")
            mlflow.log_metrics(_finite(result.metrics))
            (tmp / "metrics.json").write_text(json.dumps(result.metrics, indent=2, sort_keys=True))
            mlflow.log_artifact(str(tmp / "metrics.json"))
            report_path = tmp / "backtest_report.html"
            write_report(result, report_path)
            mlflow.log_artifact(str(report_path))
            kept_report = None
            if report_dir is not None:
                kept_report = Path(report_dir) / report_path.name
                with atomic_path(kept_report) as staged:
                    shutil.copyfile(report_path, staged)

            artifacts = {MODEL_ARTIFACT: str(tmp / "model.joblib")}
            joblib.dump(model, artifacts[MODEL_ARTIFACT])
            if products is not None:
                artifacts[PRODUCTS_ARTIFACT] = str(tmp / "products.parquet")
                products.to_parquet(artifacts[PRODUCTS_ARTIFACT], index=False)
            with _quiet_mlflow_advice():
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=RepurchasePyfunc(),
                    artifacts=artifacts,
                    signature=signature(),
                    pip_requirements=_requirements(),
                )
        version = mlflow.register_model(info.model_uri, settings.model_name, tags=tags)
    client.set_registered_model_alias(settings.model_name, CHALLENGER, version.version)
    return TrainOutcome(
        run_id=run.info.run_id,
        version=str(version.version),
        metrics=result.metrics,
        report_path=kept_report,
    )


def promote(
    settings: Settings, *, version: str | None = None, force: bool = False
) -> tuple[str, Decision]:
    """Move `champion` to the challenger (or `version`) if the promotion rule allows it."""
    client = configure_tracking(settings)
    name = settings.model_name
    candidate = (
        _version(client, name, version)
        if version is not None
        else _alias_version(client, name, CHALLENGER)
    )
    if candidate is None:
        wanted = f"version {version}" if version else f"a '{CHALLENGER}' alias"
        raise InputError(f"model '{name}' has no {wanted}; run `repurchase train` first")
    champion = _alias_version(client, name, CHAMPION)
    if champion is not None and champion.version == candidate.version:
        return candidate.version, Decision(False, f"version {candidate.version} is the champion")
    decision = decide(
        _run_metrics(client, candidate.run_id),
        _run_metrics(client, champion.run_id) if champion is not None else None,
        candidate_protocol=candidate.tags.get("protocol", ""),
        champion_protocol=champion.tags.get("protocol", "") if champion is not None else None,
        force=force,
    )
    client.set_model_version_tag(name, candidate.version, "promotion_decision", decision.reason)
    if decision.promote:
        client.set_registered_model_alias(name, CHAMPION, candidate.version)
        if champion is not None:
            client.set_model_version_tag(
                name, champion.version, "replaced_by", str(candidate.version)
            )
    return str(candidate.version), decision


def resolve_version(settings: Settings, model_uri: str) -> str:
    """The registry version behind a `models:/name@alias` or `models:/name/N` URI, if any."""
    if not model_uri.startswith("models:/"):
        return model_uri
    client = configure_tracking(settings)
    ref = model_uri.removeprefix("models:/")
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return str(client.get_model_version_by_alias(name, alias).version)
    return ref.split("/", 1)[1] if "/" in ref else ref


def load_scoring_model(settings: Settings, model_uri: str | None = None) -> tuple[Any, str]:
    """Load a pyfunc model (default: the champion) and return it with its version label."""
    configure_tracking(settings)
    uri = model_uri or settings.resolved_model_uri
    return mlflow.pyfunc.load_model(uri), resolve_version(settings, uri)


@contextlib.contextmanager
def _quiet_mlflow_advice() -> Iterator[None]:
    """Silence MLflow's generic advice that does not apply here: no input example (the
    signature is explicit and an example would copy customers' orders into the registry),
    cloudpickled python_model (our class is importable code), ambiguous local dataset source."""
    pyfunc_log = logging.getLogger("mlflow.pyfunc")
    level = pyfunc_log.level
    pyfunc_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        pyfunc_log.setLevel(level)


def _alias_version(client: MlflowClient, name: str, alias: str) -> Any:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _version(client: MlflowClient, name: str, version: str) -> Any:
    try:
        return client.get_model_version(name, version)
    except MlflowException:
        return None


def _run_metrics(client: MlflowClient, run_id: str | None) -> dict[str, float]:
    if run_id is None:
        return {}
    return dict(client.get_run(run_id).data.metrics)


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v == v and abs(v) != float("inf")}


def _requirements() -> list[str]:
    from importlib.metadata import version

    packages = ["pandas", "numpy", "pyarrow", "scipy", "scikit-learn", "lightgbm", "joblib"]
    return [f"{p}=={version(p)}" for p in packages] + [f"mlflow=={mlflow.__version__}"]

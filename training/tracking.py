"""Where MLflow keeps runs and models: the embedded default or a tracking server.

With no configuration the tracking store and registry are a SQLite file
(`sqlite:///mlruns/mlflow.db`) and artifacts live beside it under `mlruns/artifacts`, so a
fresh machine needs no server. `REPURCHASE_MLFLOW_TRACKING_URI` points at a server instead.
"""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from repurchase.settings import Settings

EXPERIMENT_NAME = "repurchase"

log = logging.getLogger(__name__)


def configure_tracking(settings: Settings) -> MlflowClient:
    """Point MLflow at the configured store (creating the embedded one) and return a client."""
    uri = settings.resolved_tracking_uri
    if uri.startswith("sqlite:///"):
        db_path = Path(uri.removeprefix("sqlite:///"))
        db_path.parent.mkdir(parents=True, exist_ok=True)
    # Quiet MLflow's chatty store migrations and emoji banners on the embedded store.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_experiment(client: MlflowClient, settings: Settings) -> str:
    """The id of the `repurchase` experiment, created on first use."""
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is not None:
        return str(experiment.experiment_id)
    artifact_location = None
    if settings.resolved_tracking_uri.startswith("sqlite:"):
        root = settings.mlflow_artifact_root.resolve()
        root.mkdir(parents=True, exist_ok=True)
        artifact_location = root.as_uri()
    return str(client.create_experiment(EXPERIMENT_NAME, artifact_location=artifact_location))

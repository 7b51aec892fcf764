"""Which model scores a batch: the registered champion, a saved file, or one fitted now.

`repurchase score` and `repurchase plan` share this choice (``--model``):

- ``auto`` (default): the model behind ``models:/<name>@champion`` (or
  ``REPURCHASE_MODEL_URI``) when the registry has one that was trained on data up to
  ``--as-of`` at the latest; otherwise a model fitted in this call on the orders up to
  ``--as-of``. Stderr says which and why.
- ``fit``: always fit on the orders up to ``--as-of`` in this call.
- ``models:/...`` or any MLflow model URI: that registered model; an error if it cannot be
  loaded.
- a path to a ``.joblib`` file (``score --save-model``): that fitted model.

A model trained on data after ``--as-of`` has seen the outcomes it would be predicting, so
it is never used silently: ``auto`` fits instead, an explicit choice is refused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from features.errors import InputError
from repurchase.settings import Settings

AUTO = "auto"
FIT_NOW = "fit"


@dataclass(frozen=True)
class ChosenModel:
    """A fitted `training.train.TrainedModel` and what scoring needs beside it."""

    model: Any
    products: pd.DataFrame | None
    version: str
    why: str


def choose_model(
    choice: str,
    as_of: dt.date,
    history: pd.DataFrame,
    products: pd.DataFrame | None,
    settings: Settings,
    feature_config: Any = None,
) -> ChosenModel:
    """Resolve ``--model`` (see the module docstring). `history`: orders up to `as_of`."""
    if choice == FIT_NOW:
        return _fit_now(history, as_of, products, feature_config, "--model fit")
    if choice != AUTO and not choice.startswith(("models:/", "runs:/")):
        return _from_file(Path(choice), as_of, products)

    uri = settings.resolved_model_uri if choice == AUTO else choice
    if choice == AUTO and not _registry_may_exist(settings):
        return _fit_now(history, as_of, products, feature_config, "no model registry yet")
    try:
        from training.registry import load_scoring_model

        pyfunc, version = load_scoring_model(settings, uri)
    except Exception as exc:  # MLflow raises many types for "not there"
        if choice == AUTO:
            return _fit_now(history, as_of, products, feature_config, f"no model at {uri}")
        raise InputError(f"cannot load model {uri}: {_first_line(exc)}") from None
    wrapper = pyfunc.unwrap_python_model()
    trained = wrapper.model
    if trained.trained_as_of > as_of:
        reason = (
            f"{uri} (version {version}) was trained on data up to {trained.trained_as_of}, "
            f"after --as-of {as_of}, so it has seen what it would predict"
        )
        if choice == AUTO:
            return _fit_now(history, as_of, products, feature_config, reason)
        raise InputError(reason + "; use --model fit or a model trained earlier")
    return ChosenModel(
        model=trained,
        products=products if products is not None else wrapper.products,
        version=str(version),
        why=f"{uri} (version {version}, trained up to {trained.trained_as_of})",
    )


def _fit_now(
    history: pd.DataFrame,
    as_of: dt.date,
    products: pd.DataFrame | None,
    feature_config: Any,
    reason: str,
) -> ChosenModel:
    from training.train import fit_model

    model = fit_model(history, as_of, products, config=feature_config)
    return ChosenModel(
        model=model,
        products=products,
        version=f"fitted-{as_of.isoformat()}",
        why=f"a model fitted now on the orders up to {as_of} ({reason})",
    )


def _from_file(path: Path, as_of: dt.date, products: pd.DataFrame | None) -> ChosenModel:
    if not path.is_file():
        raise InputError(
            "model file not found (use --model auto, fit, a models:/ URI or a .joblib file)",
            path=path,
        )
    try:
        model = joblib.load(path)
    except Exception as exc:  # a truncated or foreign file: the user must fix it
        raise InputError(f"not a saved model: {_first_line(exc)}", path=path) from None
    trained_as_of = getattr(model, "trained_as_of", None)
    if trained_as_of is None:
        raise InputError("not a model saved by `repurchase score --save-model`", path=path)
    if trained_as_of > as_of:
        raise InputError(
            f"the model was trained on data up to {trained_as_of}, after --as-of {as_of}, "
            "so it has seen what it would predict; use --model fit",
            path=path,
        )
    return ChosenModel(model, products, path.stem, f"the model saved in {path}")


def _registry_may_exist(settings: Settings) -> bool:
    """False when the embedded SQLite store was never created (no need to create it now)."""
    uri = settings.resolved_tracking_uri
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).is_file()
    return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

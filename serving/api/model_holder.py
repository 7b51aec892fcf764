"""All model access of the service: load, hot-swap and score behind one small object.

The model is an MLflow pyfunc (see `training/pyfunc_model.py`): ``predict(orders,
params={"as_of": "YYYY-MM-DD", "model_version": ...})`` takes canonical order rows of some
customers and returns one row per customer with the SPEC score columns.

Swapping is lock-free for readers: the loaded model and its description live in one
immutable `LoadedModel`, and `score` takes a reference to it once. `reload` builds the new
`LoadedModel` completely before replacing the reference, so in-flight requests finish on the
old model and no request ever sees a half-loaded one.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from features.prompted import mark_prompted, prompted_days
from repurchase.settings import Settings
from serving.api.batching import FrameBatcher, Frames, Parts, concat_parts, split_by_customer
from training.pyfunc_model import RepurchasePyfunc, to_model_input

log = logging.getLogger(__name__)

# uri -> (pyfunc model, version label)
ModelLoader = Callable[[str], tuple[Any, str | None]]
# (scores, as_of, orders, customers, contacts, policy) -> plan rows
Planner = Callable[
    [pd.DataFrame, dt.date, pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None, Any],
    pd.DataFrame | None,
]


# the raw parts of every request in a batch -> (orders, customers, contacts) for all of them
FrameBuilder = Callable[[Sequence[Parts]], Frames]
# (scores, plan, each request's customer ids) of a batch -> one output per request
Splitter = Callable[[pd.DataFrame, pd.DataFrame | None, Sequence[frozenset[str]]], list[Any]]


def split_frames(
    scores: pd.DataFrame, plan: pd.DataFrame | None, customer_ids: Sequence[frozenset[str]]
) -> list[tuple[pd.DataFrame | None, pd.DataFrame | None]]:
    """Each request's own rows of the batch's scores and plan, as frames."""
    return list(
        zip(
            split_by_customer(scores, customer_ids),
            split_by_customer(plan, customer_ids),
            strict=True,
        )
    )


class ModelNotLoaded(RuntimeError):
    """No model is loaded yet (or loading failed): model-backed endpoints answer 503."""


@dataclass(frozen=True)
class ModelInfo:
    """What GET /v1/model reports."""

    name: str
    uri: str
    version: str | None
    alias: str | None
    run_id: str | None
    trained_as_of: str | None
    loaded_at: dt.datetime
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedModel:
    model: Any
    info: ModelInfo


@dataclass(frozen=True)
class _BatchContext:
    """What one batched call needs besides the requests' parts."""

    model: LoadedModel
    build: FrameBuilder
    planner: Planner | None
    policy: Any
    split: Splitter = split_frames


class ModelHolder:
    """Holds the model in use; `load`/`reload` replace it atomically, `score` uses it."""

    def __init__(
        self,
        settings: Settings,
        *,
        uri: str | None = None,
        loader: ModelLoader | None = None,
        max_concurrent_scoring: int | None = None,
    ) -> None:
        self.settings = settings
        self.uri = uri or settings.resolved_model_uri
        self.loader = loader
        # Scoring is CPU-bound Python (pandas) under one GIL: a second scoring thread adds no
        # CPU, it only takes single requests as they arrive and so breaks up the batches
        # (measured: most calls scored one customer with two workers). One worker scores
        # everything that queued while it was busy (see serving.api.batching).
        self._batcher = FrameBatcher(self._run_batch, workers=max_concurrent_scoring or 1)
        self._current: LoadedModel | None = None
        self._reload_lock = threading.Lock()
        self.last_error: str | None = None

    @property
    def ready(self) -> bool:
        return self._current is not None

    @property
    def info(self) -> ModelInfo | None:
        current = self._current
        return current.info if current is not None else None

    def load(self) -> ModelInfo:
        """Load the model behind `uri` (for an alias: the version it points to now)."""
        with self._reload_lock:
            try:
                model, version = self._load_model()
                info = self._describe(model, version)
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                log.warning("could not load model %s: %s", self.uri, self.last_error)
                raise
            self._current = LoadedModel(model=model, info=info)
            self.last_error = None
            log.info("serving model %s version %s", self.uri, info.version)
            return info

    def reload(self) -> ModelInfo:
        """Load the model the URI points to now and swap it in; the old one serves meanwhile."""
        return self.load()

    def score(
        self, orders: pd.DataFrame, as_of: dt.date, contacts: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Score the customers in `orders` (canonical order rows) as of a date; their
        `contacts` (touches) mark the purchases that answered one (``features.prompted``)."""
        current = self._current
        if current is None:
            raise ModelNotLoaded(self.last_error or "no model is loaded yet")
        ids = frozenset(orders["customer_id"].astype(str))
        context = _BatchContext(current, concat_parts, None, None)
        parts = (orders, None, contacts)
        scores, _ = self._batcher.run((id(current), "frames"), context, as_of, parts, ids)
        assert scores is not None
        return scores

    def score_and_plan(
        self,
        parts: Parts,
        as_of: dt.date,
        *,
        customer_ids: frozenset[str],
        build: FrameBuilder,
        planner: Planner,
        policy: Any,
        shape: Hashable = (),
        split: Splitter = split_frames,
    ) -> Future[Any]:
        """Score and plan one request's customers in the same batched call; the future of
        this request's output.

        `parts` are the request's raw inputs; `build(parts of every combined request)` turns
        them into one ``(orders, customers, contacts)`` triple (inside the batch, so the frame
        work is done once per batch, not per request). `planner(scores, as_of, orders,
        customers, contacts, policy)` returns the plan rows. Only requests of the same `shape`
        are combined (say, all with customer attributes, or all without).

        The output is this request's part of `split(scores, plan, customer ids of each
        request)`, by default its ``(scores, plan)`` frames; a caller that needs less than
        whole frames (one row each) can say so and save building a frame per request.
        """
        current = self._current
        if current is None:
            raise ModelNotLoaded(self.last_error or "no model is loaded yet")
        key = (id(current), id(build), id(planner), id(policy), id(split), shape)
        context = _BatchContext(current, build, planner, policy, split)
        return self._batcher.submit(key, context, as_of, parts, customer_ids)

    @staticmethod
    def _run_batch(
        context: _BatchContext,
        as_of: dt.date,
        batch: Sequence[Parts],
        customer_ids: Sequence[frozenset[str]],
    ) -> list[Any]:
        current = context.model
        orders, *others = context.build(batch)
        assert orders is not None
        customers, contacts = [*others, None, None][:2]
        python_model = _repurchase_pyfunc(current)
        marked = marked_orders(python_model, orders, contacts)
        scores = _predict(current, python_model, marked, as_of)
        plan = None
        if context.planner is not None:
            plan = context.planner(scores, as_of, orders, customers, contacts, context.policy)
        return context.split(scores, plan, customer_ids)

    # ----------------------------------------------------------------------- loading

    def _load_model(self) -> tuple[Any, str | None]:
        if self.loader is not None:
            return self.loader(self.uri)
        from training.registry import load_scoring_model

        model, version = load_scoring_model(self.settings, self.uri)
        return model, version

    def _describe(self, model: Any, version: str | None) -> ModelInfo:
        """Name, alias, run and metrics from the registry when the URI is a registry URI."""
        name, alias = _name_and_alias(self.uri, self.settings.model_name)
        run_id = _metadata_run_id(model)
        metrics: dict[str, float] = {}
        trained_as_of: str | None = None
        if self.loader is None:
            try:
                from training.tracking import configure_tracking

                client = configure_tracking(self.settings)
                if self.uri.startswith("models:/") and version is not None:
                    run_id = client.get_model_version(name, version).run_id or run_id
                if run_id:
                    run = client.get_run(run_id)
                    metrics = {k: float(v) for k, v in run.data.metrics.items()}
                    trained_as_of = run.data.params.get("as_of")
            except Exception as exc:  # the registry is optional information here
                log.warning("model %s loaded, but its registry details are not: %s", self.uri, exc)
        return ModelInfo(
            name=name,
            uri=self.uri,
            version=version,
            alias=alias,
            run_id=run_id,
            trained_as_of=trained_as_of,
            loaded_at=dt.datetime.now(dt.UTC),
            metrics=metrics,
        )


def settle_heap() -> None:
    """Collect garbage once, then exempt everything still alive (the model, the libraries)
    from later full collections.

    A full collection walks every tracked object: with a model loaded that is ~360,000, and
    one took 226 ms, under load every ten seconds or so, stopping every request (the API's
    p99). Objects created later are collected as usual. Called after a (re)load: unfreezing
    first lets the previous model go once no request holds it.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def marked_orders(
    python_model: RepurchasePyfunc | None, orders: pd.DataFrame, contacts: pd.DataFrame | None
) -> pd.DataFrame:
    """`orders` marked from the customers' touches (``features.prompted``), within the
    window the product's model was trained with (the default for any other model);
    unchanged without touches."""
    if contacts is None or contacts.empty:
        return orders
    fitted = python_model.model if python_model is not None else None
    return mark_prompted(orders, contacts, prompted_days(getattr(fitted, "feature_config", None)))


def _repurchase_pyfunc(current: LoadedModel) -> RepurchasePyfunc | None:
    """The product's own pyfunc inside the loaded model (None for any other model)."""
    try:  # only Python-function models can be unwrapped; anything else raises
        python_model = current.model.unwrap_python_model()
    except Exception:
        return None
    return python_model if isinstance(python_model, RepurchasePyfunc) else None


def _predict(
    current: LoadedModel,
    python_model: RepurchasePyfunc | None,
    orders: pd.DataFrame,
    as_of: dt.date,
) -> pd.DataFrame:
    """Scores from the pyfunc; for the product's own model (`python_model`, unwrapped from
    `current` once per batch), through its in-process `score` (same result, without
    MLflow's per-call input conversion)."""
    version = current.info.version or ""
    if python_model is not None:
        return python_model.score(orders, as_of, version)
    params = {"as_of": as_of.isoformat(), "model_version": version}
    return pd.DataFrame(current.model.predict(to_model_input(orders), params=params))


def _name_and_alias(uri: str, default_name: str) -> tuple[str, str | None]:
    if not uri.startswith("models:/"):
        return default_name, None
    ref = uri.removeprefix("models:/")
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return name, alias
    return ref.split("/", 1)[0], None


def _metadata_run_id(model: Any) -> str | None:
    metadata = getattr(model, "metadata", None)
    run_id = getattr(metadata, "run_id", None)
    return str(run_id) if run_id else None

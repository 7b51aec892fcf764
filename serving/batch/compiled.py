"""Compiled trees for batch prediction: the same scores, about 20 times faster.

LightGBM's own ``predict`` spends ~30 ns per tree and row (it copies every row into a
feature buffer and walks the tree nodes as data); a model has seven boosters of 150 trees,
so 3.5 million customers take over two minutes. lleaves compiles each booster to native code
with LLVM (the trees become branches), which predicts the same numbers (to float rounding:
the same thresholds, the same sums in the same order) about 20 times faster.

:func:`compiled_model` returns a shallow copy of a ``training.train.TrainedModel`` whose
boosters predict through compiled code; everything else (calibration, the horizons'
monotone fix, churn, value scaling, reasons) is the model's own code, unchanged. Compiling
a booster takes seconds, so the object files are cached by the booster's text (sha256) in
a folder (default ``$REPURCHASE_HOME/compiled``): only the first run of a model version
pays for it. Without lleaves (or when compiling fails) the model is returned as it is.
"""

from __future__ import annotations

import copy
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from features.threads import usable_cores


class CompiledClassifier:
    """Stands in for a fitted ``LGBMClassifier`` where only ``predict_proba`` is called."""

    def __init__(self, original: Any, compiled: Any) -> None:
        self.original = original
        self.compiled = compiled
        # reasons still read the real booster (pred_contrib); everything else is prediction
        self.booster_ = original.booster_

    def predict_proba(self, values: np.ndarray) -> np.ndarray:
        positive = _predict(self.compiled, values)
        return np.column_stack([1.0 - positive, positive])


class CompiledRegressor:
    """Stands in for a fitted ``LGBMRegressor`` where only ``predict`` is called."""

    def __init__(self, original: Any, compiled: Any) -> None:
        self.original = original
        self.compiled = compiled
        self.booster_ = original.booster_

    def predict(self, values: np.ndarray) -> np.ndarray:
        return _predict(self.compiled, values)


def _predict(compiled: Any, values: np.ndarray) -> np.ndarray:
    """The compiled booster's raw predictions for row-major float64 `values` (what the
    compiled code reads), on as many threads as this process may use."""
    rows = np.ascontiguousarray(values, dtype=np.float64)
    return np.asarray(compiled.predict(rows, n_jobs=usable_cores()))


def compiled_model(
    trained: Any, cache_dir: Path | None = None, log: Callable[[str], None] | None = None
) -> Any:
    """A copy of `trained` whose boosters predict through lleaves-compiled code (see the
    module docstring); `trained` itself when lleaves is not available."""
    try:
        import lleaves  # noqa: F401
    except ImportError:
        return trained
    model = getattr(trained, "model", None)
    timing = getattr(model, "timing_", None)
    if model is None or not timing:
        return trained
    folder = Path(cache_dir) if cache_dir is not None else _default_cache()
    try:
        fast = copy.copy(model)
        fast.timing_ = {
            # a horizon left to the anchor (models.booster.AnchorClassifier) has no trees
            h: _compiled_classifier(c, folder, log) if hasattr(c, "booster_") else c
            for h, c in timing.items()
        }
        if getattr(model, "churn_", None) is not None:
            fast.churn_ = _compiled_classifier(model.churn_, folder, log)
        fast.value_ = copy.copy(model.value_)
        if hasattr(model.value_, "booster_"):  # not a young shop's ExpectedPurchasesValue
            fast.value_.booster_ = CompiledRegressor(
                model.value_.booster_, _compile(model.value_.booster_.booster_, folder, log)
            )
    except Exception as exc:  # an LLVM or lleaves failure must not stop a batch
        if log is not None:
            log(f"note: compiling the trees failed ({type(exc).__name__}); using LightGBM")
        return trained
    faster = copy.copy(trained)
    faster.model = fast
    return faster


def _compiled_classifier(classifier: Any, folder: Path, log: Callable[[str], None] | None) -> Any:
    out = copy.copy(classifier)
    booster = classifier.booster_
    out.booster_ = CompiledClassifier(booster, _compile(booster.booster_, folder, log))
    return out


def _compile(booster: Any, folder: Path, log: Callable[[str], None] | None) -> Any:
    """The lleaves model of a LightGBM booster, compiled once per booster text."""
    import lleaves

    text = booster.model_to_string()
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    folder.mkdir(parents=True, exist_ok=True)
    model_file = folder / f"{digest}.txt"
    object_file = folder / f"{digest}.o"
    if not model_file.exists():
        _write_atomically(model_file, text.encode("utf-8"))
    if not object_file.exists() and log is not None:
        log(f"compiling a booster's trees once (cached in {folder})")
    compiled = lleaves.Model(model_file=str(model_file))
    if object_file.exists():
        compiled.compile(cache=str(object_file))
    else:
        # compile to a temporary name, then rename: a concurrent or killed run never
        # leaves a half-written object file behind under the final name
        fd, tmp = tempfile.mkstemp(suffix=".o", dir=folder)
        os.close(fd)
        os.unlink(tmp)
        try:
            compiled.compile(cache=tmp)
            os.replace(tmp, object_file)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return compiled


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _default_cache() -> Path:
    from repurchase.settings import get_settings

    return Path(get_settings().home) / "compiled"

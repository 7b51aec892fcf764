"""BG/NBD and Pareto/NBD outputs as extra model features.

Two uses, one function (:func:`add_btyd_features`):

- training: every snapshot gets a BG/NBD fit on its own RFM summary (``params=None``). The
  summary is computed as of the snapshot's cutoff, so the outputs are leak-free features;
- scoring: the parameters fitted once on the population at the training ``as_of``
  (:func:`fit_btyd_params`, stored in ``training.train.TrainedModel``) are applied as they
  are. Refitting on the frame being scored would make one customer's score depend on who
  else is in the frame (and a fit on a single row means nothing), and costs seconds.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

BGNBD_FEATURES = ("bgnbd_p_alive", "bgnbd_expected_30d", "bgnbd_expected_90d")
# P(at least one purchase within h days) per horizon of the product, and within the churn
# window (the stacked calibration of churn uses it: see models.booster).
PARETO_HORIZONS = (7, 14, 30, 60, 90, 180)
PARETO_FEATURES = ("pnbd_p_alive", *(f"pnbd_p_buy_{h}d" for h in PARETO_HORIZONS))
BTYD_FEATURES = BGNBD_FEATURES + PARETO_FEATURES

# Fitted parameters per model name, plain floats (joblib/pickle friendly), e.g.
# {"bg_nbd": {"r": 0.24, "alpha": 30.9, "a": 0.79, "b": 2.43}, "pareto_nbd": {...}}. A model
# missing from the mapping did not fit (e.g. nobody had repeated yet): its columns are NaN.
BtydParams = dict[str, dict[str, float]]


def fit_btyd_params(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> BtydParams:
    """Fit BG/NBD and Pareto/NBD on per-customer ``frequency``, ``recency``, ``T`` (days).

    A model whose fit is impossible (no repeat buyer) or does not converge is left out.
    """
    from models.baselines.bg_nbd import BetaGeoModel

    params: BtydParams = {}
    # A fit that is impossible (nobody repeated) or does not converge leaves its model out.
    with contextlib.suppress(ValueError, RuntimeError, FloatingPointError):
        fitted = BetaGeoModel().fit(frequency, recency, T)
        params["bg_nbd"] = {key: float(value) for key, value in fitted.params_.items()}
    with contextlib.suppress(ValueError, RuntimeError, FloatingPointError):
        params["pareto_nbd"] = _fit_pareto_nbd(frequency, recency, T)
    return params


def _fit_pareto_nbd(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> dict[str, float]:
    """Pareto/NBD maximum likelihood by bounded L-BFGS-B alone (no slow fallbacks).

    The baseline's fit (``ParetoNBDModel.fit``) falls back to Nelder-Mead and Powell with up
    to 20,000 iterations when L-BFGS-B reports trouble, which on some snapshots of a small
    shop takes minutes, once per training snapshot. For a feature a near-optimum is enough;
    the likelihood, rescaling and starting point are the baseline's own.
    """
    from scipy.optimize import minimize

    from models.baselines._fitting import LOG_BOUND, as_summary
    from models.baselines.pareto_nbd import params_in_days, rescaled_likelihood

    mean_log_likelihood, start, scale = rescaled_likelihood(as_summary(frequency, recency, T))

    def negative_mean_log_likelihood(log_params: np.ndarray) -> float:
        value = mean_log_likelihood(np.clip(log_params, -LOG_BOUND, LOG_BOUND))
        return -value if np.isfinite(value) else 1e10

    result = minimize(
        negative_mean_log_likelihood,
        start,
        method="L-BFGS-B",
        bounds=[(-LOG_BOUND, LOG_BOUND)] * 4,
        options={"maxiter": 500},
    )
    if not np.isfinite(result.fun) or result.fun >= 1e10:
        raise RuntimeError("Pareto/NBD likelihood did not reach a finite value")
    return params_in_days(result.x, scale)


def add_btyd_features(features: pd.DataFrame, params: BtydParams | None = None) -> pd.DataFrame:
    """`features` plus BG/NBD and Pareto/NBD outputs (the columns of ``BTYD_FEATURES``).

    BG/NBD: P(alive), expected purchases in 30/90 days. Pareto/NBD: P(alive) and P(at least
    one purchase within h days) for h in ``PARETO_HORIZONS``.
    Required columns: ``frequency``, ``recency``, ``T`` (days, as of the frame's cutoff).
    `params`: fitted parameters to apply (see :func:`fit_btyd_params`); None fits them on
    `features` itself (a training snapshot). Where no fit is available the columns are NaN,
    which LightGBM handles.
    """
    from models.baselines.bg_nbd import BetaGeoModel
    from models.baselines.pareto_nbd import ParetoNBDModel

    out = features.copy()
    frequency = out["frequency"].to_numpy(dtype=float)
    recency = out["recency"].to_numpy(dtype=float)
    age = out["T"].to_numpy(dtype=float)
    if params is None:
        params = fit_btyd_params(frequency, recency, age) if len(out) else {}
    for column in BTYD_FEATURES:
        out[column] = np.nan
    if out.empty:
        return out
    if "bg_nbd" in params:
        bg_nbd = BetaGeoModel()
        bg_nbd.params_ = dict(params["bg_nbd"])
        out["bgnbd_p_alive"] = bg_nbd.probability_alive(frequency, recency, age)
        for days in (30, 90):
            out[f"bgnbd_expected_{days}d"] = bg_nbd.expected_purchases(
                days, frequency, recency, age
            )
    if "pareto_nbd" in params:
        pareto = ParetoNBDModel()
        pareto.params_ = dict(params["pareto_nbd"])
        alive = pareto.probability_alive(frequency, recency, age)
        out["pnbd_p_alive"] = alive
        for days in PARETO_HORIZONS:
            out[f"pnbd_p_buy_{days}d"] = pareto.probability_of_purchase(
                days, frequency, recency, age, p_alive=alive
            )
    return out

"""One self-contained HTML backtest report (figures are base64 PNGs inside the file)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd

from models.repurchase import HORIZONS
from training.backtest import BacktestResult, headline_table, methods_of
from training.metrics import spearman

RFM_GROUPS = (
    "important_value",
    "important_develop",
    "important_retain",
    "important_winback",
    "general_value",
    "general_develop",
    "general_retain",
    "general_winback",
)


def _figure_html(fig: object) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{encoded}">'


def _calibration(result: BacktestResult, horizon: int) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    outcome = result.outcomes[f"label_bought_{horizon}d"].to_numpy(dtype=float)
    bins = np.linspace(0, 1, 11)
    for method in methods_of(result):
        probability = result.predictions[method][f"p_buy_{horizon}d"].to_numpy(dtype=float)
        which = np.clip(np.digitize(probability, bins) - 1, 0, 9)
        frame = pd.DataFrame({"bin": which, "p": probability, "y": outcome})
        means = frame.groupby("bin")[["p", "y"]].mean()
        ax.plot(means["p"], means["y"], marker="o", label=method)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--")
    ax.set(xlabel="predicted", ylabel="observed", title=f"Calibration, buys within {horizon}d")
    ax.legend(fontsize=7)
    return _figure_html(fig)


def _gains(result: BacktestResult, horizon: int) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    outcome = result.outcomes[f"label_bought_{horizon}d"].to_numpy(dtype=float)
    share = np.arange(1, len(outcome) + 1) / len(outcome)
    for method in methods_of(result):
        probability = result.predictions[method][f"p_buy_{horizon}d"].to_numpy(dtype=float)
        order = np.argsort(-probability, kind="stable")
        ax.plot(share, np.cumsum(outcome[order]) / max(outcome.sum(), 1), label=method)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--")
    ax.set(xlabel="share contacted", ylabel="share of buyers", title=f"Gains, {horizon}d")
    ax.legend(fontsize=7)
    return _figure_html(fig)


def _timing(result: BacktestResult) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    actual = result.outcomes["label_days_to_next_purchase"].to_numpy(dtype=float)
    for method in methods_of(result):
        predicted = result.predictions[method]["predicted_days"].to_numpy(dtype=float)
        known = ~np.isnan(actual) & ~np.isnan(predicted)
        if known.any():
            errors = np.sort(np.abs(actual[known] - predicted[known]))
            ax.plot(errors, np.arange(1, len(errors) + 1) / len(errors), label=method)
    ax.set(xlabel="|actual - predicted| days", ylabel="share", title="Time-to-purchase error")
    ax.legend(fontsize=7)
    return _figure_html(fig)


def _importance(result: BacktestResult) -> str:
    import matplotlib.pyplot as plt

    top = result.feature_importance.head(15)[::-1]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.barh(top.index, top.to_numpy())
    ax.set(title="Feature importance (gain, 30-day model)")
    return _figure_html(fig)


def rfm_table(result: BacktestResult) -> pd.DataFrame:
    """Size and realised 30/90-day repurchase rate of each RFM group."""
    frame = pd.DataFrame(
        {
            "rfm_segment": result.customers["rfm_segment"].astype("string").to_numpy()
            if "rfm_segment" in result.customers
            else "unknown",
            "bought_30d": result.outcomes["label_bought_30d"].to_numpy(),
            "bought_90d": result.outcomes["label_bought_90d"].to_numpy(),
        }
    )
    table = frame.groupby("rfm_segment").agg(
        customers=("bought_30d", "size"),
        repurchase_30d=("bought_30d", "mean"),
        repurchase_90d=("bought_90d", "mean"),
    )
    order = [g for g in RFM_GROUPS if g in table.index] + [
        g for g in table.index if g not in RFM_GROUPS
    ]
    return table.loc[order]


def _value(result: BacktestResult) -> pd.DataFrame:
    actual = result.outcomes[f"label_revenue_{result.value_window_days}d"].to_numpy(float)
    rows = {}
    for method in methods_of(result):
        predicted = result.predictions[method]["predicted_value_365d"].to_numpy(float)
        if np.isnan(predicted).all():
            continue
        rows[method] = {
            "spearman": spearman(actual, predicted),
            "normalized_gini": result.metrics.get(f"{method}.value.normalized_gini", np.nan),
            "mean predicted (365d)": float(np.mean(predicted)),
            f"mean actual ({result.value_window_days}d)": float(np.mean(actual)),
        }
    return pd.DataFrame(rows).T


def _metric_table(result: BacktestResult, quantity: str) -> pd.DataFrame:
    rows = {}
    for method in methods_of(result):
        prefix = f"{method}.{quantity}."
        rows[method] = {
            k[len(prefix) :]: v for k, v in result.metrics.items() if k.startswith(prefix)
        }
    return pd.DataFrame(rows).T


def render_report(result: BacktestResult) -> str:
    """The report as one HTML string."""
    import matplotlib

    matplotlib.use("Agg")

    def table(frame: pd.DataFrame) -> str:
        return frame.to_html(float_format=lambda v: f"{v:.4f}", na_rep="", border=0)

    judged = [h for h in HORIZONS if f"model.p_buy_{h}d.roc_auc" in result.metrics]
    sections = [
        f"<h1>Backtest as of {result.as_of}</h1>",
        f"<p>Trained on data up to {result.as_of}; judged on {result.data_end}.</p>",
        "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in result.notes) + "</ul>",
        "<h2>Headline: model vs baselines</h2>",
        table(headline_table(result)),
    ]
    for horizon in judged:
        sections.append(f"<h2>Buys within {horizon} days</h2>")
        sections.append(table(_metric_table(result, f"p_buy_{horizon}d")))
    if 30 in judged:
        sections += ["<h2>Calibration and gains</h2>", _calibration(result, 30), _gains(result, 30)]
    if 90 in judged:
        sections += [_calibration(result, 90), _gains(result, 90)]
    sections += [
        "<h2>Time to next purchase</h2>",
        table(_metric_table(result, "time_to_next")),
        _timing(result),
    ]
    if "model.p_churn.roc_auc" in result.metrics:
        sections += ["<h2>Churn</h2>", table(_metric_table(result, "p_churn"))]
    else:
        sections += ["<h2>Churn</h2>", "<p>Churn window not observed after as_of.</p>"]
    sections += [
        f"<h2>Value (actual revenue over {result.value_window_days} days)</h2>",
        table(_value(result)),
        "<h2>RFM groups</h2>",
        table(rfm_table(result)),
        "<h2>Feature importance</h2>",
        _importance(result),
    ]
    style = "body{font-family:sans-serif;max-width:1100px;margin:auto}td,th{padding:2px 8px}"
    body = "\n".join(sections)
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>Backtest {result.as_of}'
        f"</title><style>{style}</style></head><body>{body}</body></html>"
    )


def write_report(result: BacktestResult, path: str | Path) -> None:
    """Write the report atomically to `path`."""
    from repurchase.cli_support import atomic_path

    with atomic_path(Path(path)) as tmp:
        tmp.write_text(render_report(result), encoding="utf-8")

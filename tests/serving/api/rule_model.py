"""A small, real MLflow pyfunc for the model-backed endpoint tests.

It honours the serving contract of `training/pyfunc_model.py` (canonical order rows in,
``params={"as_of", "model_version"}``, one row per customer with the SPEC score columns out)
with a transparent rule instead of LightGBM: the chance of buying within h days is
``1 - exp(-h / cycle)`` damped by how overdue the customer is, where `cycle` is the
customer's median gap between purchase days (30 days with one purchase). Tests can predict its
output, and saving/loading it is fast because it has no artifacts.

A customer id ``explode`` makes `predict` raise, to exercise the scoring-failure path. When the
last purchase day has an order marked ``prompted`` (it answered a touch: see
``features.prompted``), its reasons say so, so tests can see the marks reach the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

HORIZONS = (7, 14, 30, 60, 90)


class RecencyRuleModel(PythonModel):
    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        params = params or {}
        orders = pd.DataFrame(model_input)
        # Like the product's pyfunc: the input is validated as an orders file, naive = UTC.
        orders["ordered_at"] = pd.to_datetime(orders["ordered_at"], utc=True)
        if (orders["customer_id"] == "explode").any():
            raise ValueError("this customer breaks the rule model")
        as_of = pd.Timestamp(str(params["as_of"]), tz="UTC")
        paid = orders[
            (orders["status"] == "paid") & (orders["ordered_at"] <= as_of + pd.Timedelta(days=1))
        ]
        days = paid.assign(day=paid["ordered_at"].dt.floor("D")).drop_duplicates(
            ["customer_id", "day"]
        )
        days = days.sort_values(["customer_id", "day"])
        gaps = days.groupby("customer_id")["day"].diff().dt.days
        per = pd.DataFrame(
            {
                "last": days.groupby("customer_id")["day"].max(),
                "n": days.groupby("customer_id")["day"].count(),
                "cycle": gaps.groupby(days["customer_id"]).median(),
                "revenue": paid.groupby("customer_id")["amount"].sum(),
            }
        )
        per["cycle"] = per["cycle"].fillna(30.0).clip(lower=1.0)
        since = (as_of.floor("D") - per["last"]).dt.days.astype(float)
        damp = np.exp(-np.maximum(since - per["cycle"], 0) / (2 * per["cycle"]))
        out = pd.DataFrame(
            {"customer_id": per.index.astype(str), "as_of": as_of.date().isoformat()}
        )
        for h in HORIZONS:
            out[f"p_buy_{h}d"] = (1 - np.exp(-h / per["cycle"].to_numpy())) * damp.to_numpy()
        due = per["last"] + pd.to_timedelta(per["cycle"], unit="D")
        out["next_purchase_date"] = np.where(
            out["p_buy_90d"] >= 0.5, due.dt.strftime("%Y-%m-%d").to_numpy(), ""
        )
        out["next_purchase_low"] = ""
        out["next_purchase_high"] = ""
        out["p_churn"] = (1 - out["p_buy_90d"]) * 0.8
        out["predicted_value_365d"] = (
            (per["revenue"] / per["n"]).to_numpy() * 365 / per["cycle"].to_numpy()
        )
        out["rfm_segment"] = np.where(per["n"].to_numpy() > 1, "important_value", "general_develop")
        out["lifecycle_stage"] = np.where(per["n"].to_numpy() > 1, "active", "new")
        out["price_sensitivity"] = "low"
        out["depletion_date"] = due.dt.strftime("%Y-%m-%d").to_numpy()
        answered = pd.Series(False, index=per.index)
        if "prompted" in paid.columns and len(paid):
            last = per["last"].reindex(paid["customer_id"]).to_numpy()
            on_last_day = paid["ordered_at"].dt.floor("D").to_numpy() == last
            marked = paid.loc[on_last_day & paid["prompted"].fillna(False).to_numpy(dtype=bool)]
            answered[answered.index.isin(marked["customer_id"])] = True
        out["reasons"] = [
            f"last order {int(d)} days ago" + ("; it answered a touch" if a else "")
            for d, a in zip(since, answered, strict=True)
        ]
        out["model_version"] = str(params.get("model_version") or "unversioned")
        return out


def save_rule_model(path: Path, label: str) -> Path:
    """Save the rule model as an MLflow pyfunc at `path`, tagged with a version label."""
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import ParamSchema, ParamSpec

    from training.pyfunc_model import ORDER_INPUT_SCHEMA

    # The product model's input schema, so MLflow's schema enforcement runs as in production.
    signature = ModelSignature(
        inputs=ORDER_INPUT_SCHEMA,
        params=ParamSchema(
            [ParamSpec("as_of", "string", ""), ParamSpec("model_version", "string", "")]
        ),
    )
    mlflow.pyfunc.save_model(
        path,
        python_model=RecencyRuleModel(),
        signature=signature,
        metadata={"label": label},
        pip_requirements=[],
    )
    return path


def load_labelled_pyfunc(uri: str) -> tuple[Any, str | None]:
    """Loader for `ModelHolder`: the pyfunc and the version label saved in its metadata."""
    import mlflow

    model = mlflow.pyfunc.load_model(uri)
    return model, str(model.metadata.metadata.get("label"))

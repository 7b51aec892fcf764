"""The portable model: an MLflow pyfunc that turns customers' orders into SPEC score columns.

Input: the orders of some customers, one row per order line, in the canonical columns of
`features.tables` (`customer_id`, `ordered_at`, `amount` required; `order_id`, `sku`,
`quantity`, `discount`, `channel`, `status`, `prompted` optional). The input is validated
exactly like an orders file. Params: `as_of` (YYYY-MM-DD; default: the last order date in the input) and
`model_version` (written to the `model_version` column; default: the run id).
Output: one row per customer with the score columns of SPEC.md, in order.

    model = mlflow.pyfunc.load_model("models:/repurchase@champion")
    scores = model.predict(orders, params={"as_of": "1997-09-30"})
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.pyfunc import PythonModel
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

from features.tables import canonical_orders

MODEL_ARTIFACT = "model"
PRODUCTS_ARTIFACT = "products"

ORDER_INPUT_SCHEMA = Schema(
    [
        ColSpec("string", "customer_id"),
        ColSpec("datetime", "ordered_at"),
        ColSpec("double", "amount"),
        ColSpec("string", "order_id", required=False),
        ColSpec("string", "sku", required=False),
        ColSpec("double", "quantity", required=False),
        ColSpec("double", "discount", required=False),
        ColSpec("string", "channel", required=False),
        ColSpec("string", "status", required=False),
        ColSpec("boolean", "prompted", required=False),
    ]
)


def score_output_schema() -> Schema:
    """The SPEC score columns as an MLflow schema (dates travel as ISO strings)."""
    from training.predict import SCORE_COLUMNS

    numeric = {c for c in SCORE_COLUMNS if c.startswith("p_") or c == "predicted_value_365d"}
    return Schema(
        [
            ColSpec("double" if column in numeric else "string", column, required=False)
            for column in SCORE_COLUMNS
        ]
    )


def signature() -> ModelSignature:
    return ModelSignature(
        inputs=ORDER_INPUT_SCHEMA,
        outputs=score_output_schema(),
        params=ParamSchema(
            [ParamSpec("as_of", "string", default=""), ParamSpec("model_version", "string", "")]
        ),
    )


class RepurchasePyfunc(PythonModel):
    """Wraps the fitted model and the product table it was trained with."""

    def load_context(self, context: Any) -> None:
        self.model = joblib.load(context.artifacts[MODEL_ARTIFACT])
        products_path = context.artifacts.get(PRODUCTS_ARTIFACT)
        self.products = pd.read_parquet(products_path) if products_path else None
        self.run_label = Path(context.artifacts[MODEL_ARTIFACT]).parent.name

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        params = params or {}
        orders = canonical_orders(pd.DataFrame(model_input), source="model input")
        as_of_text = str(params.get("as_of") or "")
        as_of = (
            dt.date.fromisoformat(as_of_text) if as_of_text else orders["ordered_at"].max().date()
        )
        version = str(params.get("model_version") or "unversioned")
        return self.score(orders, as_of, version)

    def score(self, orders: pd.DataFrame, as_of: dt.date, model_version: str) -> pd.DataFrame:
        """`predict` for a caller in this process holding order rows with the canonical dtypes
        (the HTTP API): validated like an orders file, but without MLflow's schema enforcement
        and the naive-time round trip, which cost the API a fifth of its scoring time."""
        from training.predict import score_customers

        orders = canonical_orders(orders, source="model input")
        return score_customers(
            self.model, orders, as_of, self.products, model_version=model_version
        )


def to_model_input(orders: pd.DataFrame) -> pd.DataFrame:
    """Canonical orders as the signature wants them: MLflow's `datetime` columns must be
    time-zone naive, so timestamps travel as naive UTC (the model reads naive as UTC)."""
    stamps = orders["ordered_at"]
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        orders = orders.assign(ordered_at=stamps.dt.tz_convert("UTC").dt.tz_localize(None))
    return orders

"""The top factors behind each forecast, in words.

LightGBM's ``pred_contrib=True`` splits each customer's log-odds of buying within 30 days
into one contribution per feature (TreeSHAP). The three features with the largest absolute
contribution become the reasons, each phrased from the customer's own values and marked with
the direction it pushes the forecast, e.g.
``last order 95 days ago (late for a 30-day cycle) (lowers)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

Phrase = Callable[[pd.DataFrame], pd.Series]


def _number(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce").round(0).astype("Int64").astype("string")


def _last_order(frame: pd.DataFrame) -> pd.Series:
    text = "last order " + _number(frame, "days_since_last_order") + " days ago"
    if "cycle_days" not in frame.columns:
        return text
    cycle = pd.to_numeric(frame["cycle_days"], errors="coerce")
    late = pd.to_numeric(frame["days_since_last_order"], errors="coerce") > cycle
    cycle_text = _number(frame, "cycle_days")
    note = (" (late for a " + cycle_text + "-day cycle)").where(
        late, " (within a " + cycle_text + "-day cycle)"
    )
    return text + note.fillna("")


def _simple(template: str, column: str, offset: float = 0.0, decimals: int = 0) -> Phrase:
    """A phrase filling `template`'s ``{}`` with the column's value (+ `offset`), rounded."""

    def phrase(frame: pd.DataFrame) -> pd.Series:
        value = (pd.to_numeric(frame[column], errors="coerce") + offset).round(decimals)
        shown = value.astype("Int64") if decimals == 0 else value
        return shown.astype("string").map(template.format, na_action="ignore")

    return phrase


PHRASES: dict[str, Phrase] = {
    "days_since_last_order": _last_order,
    "frequency": _simple("{} purchase days so far", "frequency", offset=1.0),
    "n_orders": _simple("{} orders so far", "n_orders"),
    "recency": _simple("{} days between first and last purchase", "recency"),
    "T": _simple("first order {} days ago", "T"),
    "tenure_days": _simple("customer for {} days", "tenure_days"),
    "monetary_value": _simple("spends {} per repeat purchase", "monetary_value", decimals=2),
    "revenue_total": _simple("{} spent in total", "revenue_total", decimals=2),
    "overdue_ratio": _simple(
        "{}x the usual interval since the last order", "overdue_ratio", decimals=1
    ),
    "cycle_days": _simple("usual cycle of {} days", "cycle_days"),
    "days_until_depletion": _simple("expected to run out in {} days", "days_until_depletion"),
}


def _phrase(frame: pd.DataFrame, column: str) -> pd.Series:
    if column in PHRASES:
        return PHRASES[column](frame).astype("string")
    value = pd.to_numeric(frame[column], errors="coerce").round(2).astype("string")
    return (column.replace("_", " ") + " = " + value).astype("string")


def describe_reasons(
    features: pd.DataFrame, contributions: np.ndarray, columns: list[str], top: int = 3
) -> pd.Series:
    """One string per row: its `top` factors by absolute contribution, joined by ``; ``.

    `features` holds the rows' feature values (at least `columns`); `contributions` has one
    column per entry of `columns`, in that order.
    """
    n_rows = len(features)
    if n_rows == 0:
        return pd.Series([], dtype="string", index=features.index)
    order = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :top]
    frame = features.reset_index(drop=True)
    parts = []
    for rank in range(order.shape[1]):
        chosen = order[:, rank]
        direction = np.where(
            contributions[np.arange(n_rows), chosen] >= 0, " (raises)", " (lowers)"
        )
        text = pd.Series(pd.NA, index=frame.index, dtype="string")
        # One pass per feature (not per customer): phrase only the rows that chose it.
        for position in np.unique(chosen):
            rows = chosen == position
            phrased = _phrase(frame.loc[rows], columns[position])
            text.loc[rows] = phrased.fillna(columns[position].replace("_", " ") + " unknown")
        parts.append(text + pd.Series(direction, index=frame.index, dtype="string"))
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "; " + part
    return pd.Series(joined.to_numpy(), index=features.index, dtype="string")

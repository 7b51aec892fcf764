"""Read a score file written by `repurchase score` (CSV or Parquet) for planning.

Only the columns the planner needs are required (see ``SCORE_COLUMNS_USED``); dates may be
text (``YYYY-MM-DD``), dates or timestamps; empty means unknown. Everything the planner reads
is checked as `repurchase score` writes it: one row per customer id, probabilities in [0, 1],
a finite non-negative value, the known segment, stage and sensitivity labels. A file that
breaks any of that was not written by `repurchase score` (or was edited by hand), and a plan
built from it would contact the wrong people: it is refused with the first offending row.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from features.errors import InputError
from features.mix import PRICE_SENSITIVITY
from features.segments import LIFECYCLE_STAGES, RFM_SEGMENTS
from serving.policy.planner import SCORE_COLUMNS_USED, as_day

LABELS = {
    "rfm_segment": RFM_SEGMENTS,
    "lifecycle_stage": LIFECYCLE_STAGES,
    "price_sensitivity": PRICE_SENSITIVITY,
}


def read_scores(path: Path | str, columns: list[str] | None = None) -> pd.DataFrame:
    """The score table at `path`, or InputError naming the file and what is wrong with it.

    `columns`: read only these (those the file has; a required one missing is still an
    error): a planner needs 9 of the 18 columns, and a wide table of millions of customers
    costs seconds and gigabytes per column of text. Date columns come back as naive day
    timestamps (``datetime64``).
    """
    path = Path(path)
    name = path.name.lower()
    if not path.is_file():
        raise InputError("score file not found", path=path)
    if path.stat().st_size == 0:
        raise InputError("file is empty", path=path)
    try:
        if name.endswith((".csv", ".csv.gz")):
            frame = pd.read_csv(
                path,
                dtype={"customer_id": "string", "reasons": "string"},
                usecols=None if columns is None else lambda c: c in columns,
            )
        elif name.endswith((".parquet", ".pq")):
            frame = _read_parquet(path, columns)
        else:
            raise InputError("unknown file type: use .csv or .parquet", path=path)
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text; save it as UTF-8", path=path) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, pa.ArrowInvalid, OSError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot be read as a score table ({text})", path=path) from None
    missing = [c for c in SCORE_COLUMNS_USED if c not in frame.columns]
    if missing:
        raise InputError(
            f"required column '{missing[0]}' is missing; is this a file from `repurchase score`?",
            path=path,
        )
    if frame.empty:
        raise InputError("file has a header but no rows", path=path)
    _check_ids(frame, path)
    probabilities = [c for c in frame.columns if str(c).startswith(("p_buy_", "p_churn"))]
    for column in probabilities:
        frame[column] = _numbers(frame, column, path, low=0.0, high=1.0, what="a probability")
    frame["predicted_value_365d"] = _numbers(
        frame, "predicted_value_365d", path, low=0.0, high=None, what="a value >= 0"
    )
    for column, labels in LABELS.items():
        label = frame[column].astype("string")
        _refuse(frame, ~label.isin(labels).fillna(False), path, column, f"must be one of {labels}")
        frame[column] = label
    for column in ("next_purchase_date", "depletion_date"):
        try:
            frame[column] = as_day(frame[column], column)
        except InputError as exc:
            raise InputError(str(exc), path=path, column=column) from None
        except (ValueError, OverflowError):  # a year pandas cannot hold
            raise InputError("has a date out of range", path=path, column=column) from None
    frame["customer_id"] = frame["customer_id"].astype("string")
    return frame


def _read_parquet(path: Path, columns: list[str] | None) -> pd.DataFrame:
    """Parquet dates as datetime64, not one Python object per cell (seconds per million)."""
    import pyarrow.parquet as pq

    if columns is not None:
        present = set(pq.read_schema(path).names)
        columns = [c for c in columns if c in present]
    return pq.read_table(path, columns=columns).to_pandas(date_as_object=False)


def _check_ids(frame: pd.DataFrame, path: Path) -> None:
    ids = frame["customer_id"].astype("string")
    empty = ids.isna() | (ids.str.strip() == "")
    _refuse(frame, empty, path, "customer_id", "must not be empty")
    control = ids.str.contains(r"[\x00-\x1f\x7f]", regex=True).fillna(False)
    _refuse(frame, control, path, "customer_id", "must not contain control characters")
    _refuse(frame, ids.duplicated(), path, "customer_id", "appears twice; one row per customer")
    frame["customer_id"] = ids


def _numbers(
    frame: pd.DataFrame,
    column: str,
    path: Path,
    *,
    low: float,
    high: float | None,
    what: str,
) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    outside = values.isna() | (values < low)
    if high is not None:
        outside |= values > high
    else:
        outside |= values == float("inf")
    _refuse(frame, outside, path, column, f"must be {what}")
    return values


def _refuse(frame: pd.DataFrame, bad: pd.Series, path: Path, column: str, message: str) -> None:
    """InputError naming the first row of `bad`, if any."""
    flags = bad.to_numpy(dtype=bool)
    if not flags.any():
        return
    row = int(flags.nonzero()[0][0])
    raise InputError(
        message,
        path=path,
        column=column,
        row_number=row + 2,
        row={str(k): v for k, v in frame.iloc[row].items()},
    )

"""Read a score file written by `repurchase score` (CSV or Parquet) for planning.

Only the columns the planner needs are required (see ``SCORE_COLUMNS_USED``); dates may be
text (``YYYY-MM-DD``), dates or timestamps; empty means unknown.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from features.errors import InputError
from serving.policy.planner import SCORE_COLUMNS_USED, as_day


def read_scores(path: Path | str) -> pd.DataFrame:
    """The score table at `path`, or InputError naming the file and what is wrong with it."""
    path = Path(path)
    name = path.name.lower()
    if not path.is_file():
        raise InputError("score file not found", path=path)
    if path.stat().st_size == 0:
        raise InputError("file is empty", path=path)
    try:
        if name.endswith((".csv", ".csv.gz")):
            frame = pd.read_csv(path, dtype={"customer_id": "string", "reasons": "string"})
        elif name.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
        else:
            raise InputError("unknown file type: use .csv or .parquet", path=path)
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
    for column in ("p_buy_30d", "predicted_value_365d"):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise InputError(
                "must be a number",
                path=path,
                column=column,
                row_number=row + 2,
                row={str(k): v for k, v in frame.iloc[row].items()},
            )
        frame[column] = values
    for column in ("next_purchase_date", "depletion_date"):
        try:
            as_day(frame[column], column)
        except InputError as exc:
            raise InputError(str(exc), path=path) from None
    frame["customer_id"] = frame["customer_id"].astype("string")
    return frame

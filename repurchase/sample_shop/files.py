"""Write a table as CSV quickly and reproducibly (Arrow's CSV writer, not `DataFrame.to_csv`).

Timestamps become ISO 8601 UTC text with a `Z` suffix (`2026-06-18T12:30:05Z`), booleans
`true`/`false`, missing values empty fields. The output depends only on the frame, so the
same frame always gives the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from repurchase.cli_support import atomic_path


def categorical(codes: np.ndarray, names: Any) -> pd.Categorical[Any]:
    """Text column from integer codes (cheap for millions of rows, written as text)."""
    return pd.Categorical.from_codes(
        np.asarray(codes, dtype=np.int64), dtype=pd.CategoricalDtype(pd.Index(names))
    )


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` to `path` atomically (readers never see a half-written file)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata(None)
    for index, field in enumerate(table.schema):
        column = table.column(index)
        if pa.types.is_timestamp(field.type):
            column = _iso_utc(column)
        elif pa.types.is_dictionary(field.type):
            column = pc.cast(column, pa.string())  # text, not dictionary codes
        table = table.set_column(index, field.name, column)
    with atomic_path(path) as tmp:
        pacsv.write_csv(table, tmp, pacsv.WriteOptions(quoting_style="needed"))
        # the temporary file is private (0600); give the result the usual permissions
        os.chmod(tmp, 0o666 & ~_umask())


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _iso_utc(column: pa.ChunkedArray) -> pa.ChunkedArray:
    # casting a zone-aware timestamp to text is slow in Arrow; go through naive UTC instead
    naive = pc.cast(column, pa.timestamp("s"))
    text = pc.replace_substring(pc.cast(naive, pa.string()), " ", "T")
    return pc.binary_join_element_wise(text, "Z", "")

"""`repurchase/cli_support.py`: outputs that cannot be written are bad input, not crashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.errors import InputError
from repurchase.cli_support import atomic_path


def test_atomic_path_refuses_a_folder_target(tmp_path: Path) -> None:
    (tmp_path / "report.html").mkdir()
    with pytest.raises(InputError, match="folder"), atomic_path(tmp_path / "report.html"):
        pytest.fail("must not be entered")


def test_atomic_path_refuses_a_target_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("a file")
    with (
        pytest.raises(InputError, match="is a file"),
        atomic_path(tmp_path / "plain.txt" / "m.json"),
    ):
        pytest.fail("must not be entered")


def test_atomic_path_leaves_nothing_when_the_writer_fails(tmp_path: Path) -> None:
    target = tmp_path / "out" / "m.json"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer died")
    assert list((tmp_path / "out").iterdir()) == []


def test_parquet_output_reads_back_the_same_values_whichever_writer(tmp_path: Path) -> None:
    """Plain columns go through polars, pandas-specific ones through pyarrow; both read
    back with the values (and, for the pandas-specific ones, the types) written."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    from repurchase.cli_support import write_frame

    plain = pd.DataFrame(
        {
            "customer_id": pd.Series(["a", "b", None], dtype="string"),
            "n": np.array([1, 2, 3], dtype=np.int32),
            "x": [0.5, np.nan, 2.0],
            "share": np.array([0.25, 0.5, np.nan], dtype=np.float32),
            "flag": [True, False, True],
            "day": pd.to_datetime(["2024-01-01", None, "2024-03-01"]),
        }
    )
    write_frame(plain, tmp_path / "plain.parquet")
    back = pd.read_parquet(tmp_path / "plain.parquet")
    assert list(back.columns) == list(plain.columns)
    assert back["customer_id"].tolist()[:2] == ["a", "b"] and pd.isna(back["customer_id"][2])
    pd.testing.assert_frame_equal(
        back.drop(columns="customer_id"), plain.drop(columns="customer_id")
    )
    assert pq.ParquetFile(tmp_path / "plain.parquet").metadata.row_group(0).column(0).statistics

    special = plain.assign(
        segment=pd.Categorical(["x", "y", "x"]), count=pd.array([1, None, 3], dtype="Int64")
    )
    write_frame(special, tmp_path / "special.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "special.parquet"), special)

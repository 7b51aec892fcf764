"""`score_file` scores an orders file partition by partition exactly as the whole file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from features.errors import InputError
from features.tables import read_orders
from serving.batch.planning import plan_file
from serving.batch.scoring import score_file
from serving.policy.config import PolicyConfig
from training.labels import orders_up_to
from training.predict import SCORE_COLUMNS, score_customers
from training.train import TrainedModel

from .conftest import AS_OF


def _by_customer(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("customer_id").reset_index(drop=True)


def test_partitioned_scores_equal_the_whole_file_scores(
    shop_files: dict[str, Path],
    shop_orders: pd.DataFrame,
    shop_products: pd.DataFrame,
    batch_model: TrainedModel,
    model_file: Path,
    tmp_path: Path,
) -> None:
    out = tmp_path / "scores.parquet"
    result = score_file(
        shop_files["orders"],
        AS_OF,
        out,
        model=str(model_file),
        products=shop_products,
        partition_rows=600,  # about 3,000 rows up to AS_OF: five or six partitions
        log=lambda _message: None,
    )
    assert result.partitions >= 4
    expected = score_customers(
        batch_model, orders_up_to(shop_orders, AS_OF), AS_OF, shop_products,
        model_version="model",
    )  # fmt: skip
    written = pd.read_parquet(out)
    assert list(written.columns) == SCORE_COLUMNS
    assert result.customers == len(expected) == len(written)
    # written to Parquet and read back: compare as the one-shot frame written the same way
    expected.to_parquet(tmp_path / "expected.parquet", index=False)
    pd.testing.assert_frame_equal(
        _by_customer(written),
        _by_customer(pd.read_parquet(tmp_path / "expected.parquet")),
        rtol=1e-9,
    )
    assert not [p.name for p in tmp_path.iterdir() if ".batch-" in p.name]  # spill removed


def test_csv_output_has_one_header_and_every_customer(
    shop_files: dict[str, Path], model_file: Path, shop_products: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "scores.csv"
    result = score_file(
        shop_files["orders"], AS_OF, out, model=str(model_file), products=shop_products,
        partition_rows=1_000, log=lambda _message: None,
    )  # fmt: skip
    written = pd.read_csv(out, dtype={"customer_id": "string"})
    assert list(written.columns) == SCORE_COLUMNS
    assert len(written) == result.customers == written["customer_id"].nunique()


def test_bad_input_leaves_no_output_and_no_scratch(
    shop_files: dict[str, Path], model_file: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "orders.csv"
    raw = pd.read_csv(shop_files["orders"], dtype=str)
    raw.loc[len(raw) - 1, "amount"] = "lots"  # in the last batch: after others were spilled
    raw.to_csv(bad, index=False)
    out = tmp_path / "scores.parquet"
    with pytest.raises(InputError, match=r"amount.*must be a number"):
        score_file(
            bad, AS_OF, out, model=str(model_file), partition_rows=500, log=lambda _message: None
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders.csv"]


def test_nobody_to_score_is_an_input_error(
    shop_files: dict[str, Path], model_file: Path, tmp_path: Path
) -> None:
    first = read_orders(shop_files["orders"])["ordered_at"].min().date()
    with pytest.raises(InputError, match="no orders on or before"):
        score_file(
            shop_files["orders"], first - dt.timedelta(days=1), tmp_path / "s.parquet",
            model="fit", log=lambda _message: None,
        )  # fmt: skip
    assert not list(tmp_path.iterdir())


def test_a_saved_model_from_after_as_of_is_refused_before_the_orders_are_read(
    shop_files: dict[str, Path], model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def spill(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the orders were spilled before the model was checked")

    monkeypatch.setattr("serving.batch.scoring.spill_partitions", spill)
    early = AS_OF - dt.timedelta(days=30)  # the model was trained up to AS_OF
    with pytest.raises(InputError, match="after --as-of"):
        score_file(
            shop_files["orders"], early, tmp_path / "s.parquet", model=str(model_file),
            log=lambda _message: None,
        )  # fmt: skip
    with pytest.raises(InputError, match="after --as-of"):
        plan_file(
            shop_files["orders"], early, tmp_path / "p.parquet", policy=PolicyConfig(),
            model=str(model_file), log=lambda _message: None,
        )  # fmt: skip
    assert not list(tmp_path.iterdir())


def test_worker_processes_write_the_one_process_file(
    shop_files: dict[str, Path], shop_products: pd.DataFrame, model_file: Path, tmp_path: Path
) -> None:
    """`--workers 2` scores partitions side by side; the file is the same, row for row."""
    files = {}
    for workers in (1, 2):
        files[workers] = tmp_path / f"scores_{workers}.parquet"
        result = score_file(
            shop_files["orders"],
            AS_OF,
            files[workers],
            model=str(model_file),
            products=shop_products,
            partition_rows=600,
            workers=workers,
            log=lambda _message: None,
        )
        assert result.partitions >= 4
    pd.testing.assert_frame_equal(pd.read_parquet(files[2]), pd.read_parquet(files[1]))

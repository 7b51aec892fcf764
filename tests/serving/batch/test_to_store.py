"""`--to-store`: the batch's scores and plan land in the store, and a re-run leaves one copy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import func, select

from serving.batch.planning import plan_file
from serving.batch.scoring import score_file
from serving.policy import policy_from_mapping
from serving.store.db import make_engine, make_session_factory
from serving.store.models import PlanRow, Score

from .conftest import AS_OF


def test_scores_and_plan_are_upserted_and_a_rerun_is_idempotent(
    shop_files: dict[str, Path], model_file: Path, shop_products: pd.DataFrame, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    for _ in range(2):  # the second run must update the same rows, not add any
        result = score_file(
            shop_files["orders"], AS_OF, tmp_path / "scores.parquet", model=str(model_file),
            products=shop_products, partition_rows=800, store_url=url, log=lambda _m: None,
        )  # fmt: skip
        planned = plan_file(
            shop_files["orders"], AS_OF, tmp_path / "plan.parquet",
            policy=policy_from_mapping({}), model=str(model_file),
            scores=pd.read_parquet(tmp_path / "scores.parquet"), store_url=url,
            log=lambda _m: None,
        )  # fmt: skip
    scores = pd.read_parquet(tmp_path / "scores.parquet").set_index("customer_id")
    someone = str(scores.index[len(scores) // 2])
    sessions = make_session_factory(make_engine(url))
    with sessions() as session:
        n_scores = session.scalar(select(func.count()).select_from(Score))
        n_plan = session.scalar(select(func.count()).select_from(PlanRow))
        stored = session.scalar(select(Score.p_buy_30d).where(Score.customer_id == someone))
    assert result.partitions >= 3
    assert n_scores == result.customers == len(scores)
    assert n_plan == len(planned.plan) > 0
    assert stored == scores.loc[someone, "p_buy_30d"]


def test_one_pass_plan_stores_its_scores_and_plan(
    shop_files: dict[str, Path], model_file: Path, shop_products: pd.DataFrame, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    planned = plan_file(
        shop_files["orders"], AS_OF, tmp_path / "plan.parquet", policy=policy_from_mapping({}),
        model=str(model_file), products=shop_products, partition_rows=800, store_url=url,
        scores_out=tmp_path / "scores.parquet", log=lambda _m: None,
    )  # fmt: skip
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    with make_session_factory(make_engine(url))() as session:
        n_scores = session.scalar(select(func.count()).select_from(Score))
        n_plan = session.scalar(select(func.count()).select_from(PlanRow))
    assert n_scores == len(scores) == planned.batch.customers > 0
    assert n_plan == len(planned.plan) > 0

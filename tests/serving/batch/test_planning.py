"""`plan_file` plans partition by partition and applies capacity once: the whole-file plan."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.errors import InputError
from features.prompted import DEFAULT_WITHIN_DAYS, mark_prompted
from features.tables import read_contacts, read_customers
from serving.batch.planning import plan_file
from serving.batch.scoring import score_file
from serving.policy import PLAN_COLUMNS, build_plan, policy_from_mapping
from training.labels import orders_up_to
from training.predict import score_customers
from training.train import TrainedModel

from .conftest import AS_OF

# capacities small enough to bind on this shop: contacts move to later days and compete there
POLICY = {"daily_capacity": {"email": 4, "sms": 2, "wechat": 3}, "plan_days": 45}


@pytest.fixture(scope="module")
def whole_file_scores(
    shop_files: dict[str, Path],
    shop_orders: pd.DataFrame,
    shop_products: pd.DataFrame,
    batch_model: TrainedModel,
) -> pd.DataFrame:
    """The whole file's scores, its purchases marked from the touches the plan is given."""
    contacts = read_contacts(shop_files["contacts"])
    marked = mark_prompted(shop_orders, contacts, DEFAULT_WITHIN_DAYS)
    assert marked["prompted"].any()  # the marks are part of what the partitions must match
    history = orders_up_to(marked, AS_OF)
    return score_customers(batch_model, history, AS_OF, shop_products, model_version="model")


@pytest.mark.parametrize(
    ("with_score_file", "workers"),
    [(False, 1), (True, 1), (False, 2)],
    ids=["scored-here", "score-file", "scored-by-two-workers"],
)
def test_partitioned_plan_equals_the_whole_file_plan(
    with_score_file: bool,
    workers: int,
    shop_files: dict[str, Path],
    shop_orders: pd.DataFrame,
    shop_products: pd.DataFrame,
    whole_file_scores: pd.DataFrame,
    model_file: Path,
    tmp_path: Path,
) -> None:
    policy = policy_from_mapping(POLICY)
    customers = read_customers(shop_files["customers"])
    contacts = read_contacts(shop_files["contacts"])
    expected = build_plan(
        whole_file_scores, as_of=AS_OF, orders=shop_orders, customers=customers,
        contacts=contacts, policy=policy,
    )  # fmt: skip
    scores = whole_file_scores.sample(frac=1.0, random_state=0) if with_score_file else None
    out = tmp_path / "plan.parquet"
    result = plan_file(
        shop_files["orders"], AS_OF, out, policy=policy, model=str(model_file), scores=scores,
        products=shop_products, customers=customers, contacts=contacts, partition_rows=600,
        workers=workers, log=lambda _message: None,
    )  # fmt: skip

    assert result.batch.partitions >= 4
    assert result.batch.customers == len(whole_file_scores)
    uncapped = build_plan(
        whole_file_scores, as_of=AS_OF, orders=shop_orders, customers=customers,
        contacts=contacts, policy=policy.model_copy(update={"daily_capacity": {}}),
    )  # fmt: skip
    per_day = uncapped.loc[~uncapped["holdout"]].groupby(["contact_on", "channel"]).size()
    assert (per_day > 4).sum() >= 3  # capacity binds on several days: contacts move
    pd.testing.assert_frame_equal(result.plan.reset_index(drop=True), expected, rtol=1e-9)
    written = pd.read_parquet(out)
    assert list(written.columns) == PLAN_COLUMNS
    assert len(written) == len(expected)


def test_scores_out_writes_what_score_file_writes_in_the_same_pass(
    shop_files: dict[str, Path], shop_products: pd.DataFrame, model_file: Path, tmp_path: Path
) -> None:
    """The nightly job in one command: the plan as without `scores_out`, and the score file
    `repurchase score` writes (same rows, same values), from one read of the orders."""
    policy = policy_from_mapping(POLICY)
    common = {
        "policy": policy, "model": str(model_file), "products": shop_products,
        "partition_rows": 600, "log": lambda _message: None,
    }  # fmt: skip
    one_pass = plan_file(
        shop_files["orders"], AS_OF, tmp_path / "plan.parquet",
        scores_out=tmp_path / "scores.parquet", **common,
    )  # fmt: skip
    plan_only = plan_file(shop_files["orders"], AS_OF, tmp_path / "plan_only.parquet", **common)
    score_file(
        shop_files["orders"], AS_OF, tmp_path / "score_file.parquet", model=str(model_file),
        products=shop_products, partition_rows=600, log=lambda _message: None,
    )  # fmt: skip

    written = pd.read_parquet(tmp_path / "scores.parquet")
    pd.testing.assert_frame_equal(written, pd.read_parquet(tmp_path / "score_file.parquet"))
    assert len(written) == one_pass.batch.customers > 0
    pd.testing.assert_frame_equal(one_pass.plan, plan_only.plan)


def test_scores_out_is_refused_with_a_score_file(
    shop_files: dict[str, Path], whole_file_scores: pd.DataFrame, tmp_path: Path
) -> None:
    with pytest.raises(InputError, match="drop --scores"):
        plan_file(
            shop_files["orders"], AS_OF, tmp_path / "plan.parquet",
            policy=policy_from_mapping({}), model="auto", scores=whole_file_scores,
            scores_out=tmp_path / "scores.parquet", log=lambda _message: None,
        )  # fmt: skip
    assert list(tmp_path.iterdir()) == []  # refused before any work

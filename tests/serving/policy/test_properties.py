"""Property: for any sensible policy and shop, the plan obeys the policy (checked independently)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_helpers import AS_OF, assert_plan_obeys_policy, synthetic_shop

from serving.policy import PolicyConfig, build_plan


@st.composite
def policies(draw: st.DrawFn) -> PolicyConfig:
    start = draw(st.integers(0, 22))
    end = draw(st.integers(start + 1, 24))
    channels = draw(st.lists(st.sampled_from(["email", "sms", "wechat"]), unique=True))
    return PolicyConfig(
        quiet_days_after_purchase=draw(st.integers(0, 21)),
        min_days_between_contacts=draw(st.integers(0, 14)),
        max_contacts_per_30_days=draw(st.integers(0, 6)),
        allowed_hours=(start, end),
        holdout_fraction=draw(st.sampled_from([0.0, 0.1, 0.5])),
        lead_days=draw(st.integers(0, 10)),
        plan_days=draw(st.integers(1, 60)),
        daily_capacity={ch: draw(st.integers(0, 15)) for ch in channels},
        capacity_overflow=draw(st.sampled_from(["next_day", "drop"])),
    )


@pytest.mark.parametrize("with_customers", [True, False])
@settings(
    max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(policy=policies(), seed=st.integers(0, 10_000))
def test_any_plan_obeys_its_policy(policy: PolicyConfig, seed: int, with_customers: bool) -> None:
    shop = synthetic_shop(150, seed=seed)
    customers = shop["customers"] if with_customers else None
    plan = build_plan(
        shop["scores"],
        as_of=AS_OF,
        orders=shop["orders"],
        customers=customers,
        contacts=shop["contacts"],
        policy=policy,
    )
    assert_plan_obeys_policy(plan, shop["orders"], customers, shop["contacts"], policy)

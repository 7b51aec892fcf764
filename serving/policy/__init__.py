"""The contact policy: do-not-disturb rules, offers, hold-out and the contact plan.

Public API::

    PolicyConfig                      # the operator's TOML policy, validated
    load_policy(path) -> PolicyConfig # None -> defaults; bad file -> InputError
    policy_to_toml(policy) -> str     # what `repurchase policy show` prints
    build_plan(scores, *, as_of, orders, customers=None, contacts=None, policy=None)
    find_violations(plan, *, as_of, orders, customers=None, contacts=None, policy=None)
    evaluate_plan(plan, scores, orders, as_of, *, top_share=0.1, window_days=30) -> PlanEvaluation

See `serving/policy/README.md` for the rules in an operator's words.
"""

from serving.policy.audit import find_violations
from serving.policy.config import PolicyConfig, load_policy, policy_from_mapping, policy_to_toml
from serving.policy.evaluation import PlanEvaluation, evaluate_plan
from serving.policy.holdout import is_holdout
from serving.policy.planner import PLAN_COLUMNS, build_plan

__all__ = [
    "PLAN_COLUMNS",
    "PlanEvaluation",
    "PolicyConfig",
    "build_plan",
    "evaluate_plan",
    "find_violations",
    "is_holdout",
    "load_policy",
    "policy_from_mapping",
    "policy_to_toml",
]

"""Policy file: SPEC defaults, round trip through `policy_to_toml`, and refusals."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from features.errors import InputError
from serving.policy import PolicyConfig, load_policy, policy_to_toml


def test_defaults_are_the_spec_defaults() -> None:
    # Values copied from the TOML block of SPEC.md ("Plan columns").
    policy = load_policy(None)
    assert policy.quiet_days_after_purchase == 7
    assert policy.min_days_between_contacts == 7
    assert policy.max_contacts_per_30_days == 4
    assert policy.allowed_hours == (9, 21)
    assert policy.holdout_fraction == 0.1
    assert policy.lead_days == 3
    assert policy.plan_days == 30
    assert policy.daily_capacity == {"wechat": 500}


def test_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        "quiet_days_after_purchase = 10\nallowed_hours = [10, 20]\n"
        "[daily_capacity]\nsms = 50\n[action_weights]\nwinback = 2.5\n"
    )
    policy = load_policy(path)
    assert policy.quiet_days_after_purchase == 10
    assert policy.allowed_hours == (10, 20)
    assert policy.daily_capacity == {"sms": 50}  # the table replaces the default table
    assert policy.action_weights["winback"] == 2.5
    assert policy.action_weights["replenish_reminder"] == 1.3  # unnamed weights keep defaults
    assert policy.lead_days == 3


def test_printed_policy_reads_back_unchanged(tmp_path: Path) -> None:
    custom = PolicyConfig(
        holdout_fraction=0.25,
        high_value_threshold=300.0,
        daily_capacity={"email": 10, "wechat": 3},
        holdout_salt='quote " and \\ backslash',
    )
    for policy in (PolicyConfig(), custom):
        text = policy_to_toml(policy)
        tomllib.loads(text)  # valid TOML
        path = tmp_path / "roundtrip.toml"
        path.write_text(text)
        assert load_policy(path) == policy


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("quiet_days = 3\n", "unknown key"),
        ("allowed_hours = [21, 9]\n", "allowed_hours"),
        ("allowed_hours = [9, 25]\n", "allowed_hours"),
        ("holdout_fraction = 1.5\n", "holdout_fraction"),
        ("max_contacts_per_30_days = -1\n", "max_contacts_per_30_days"),
        ("lead_days = 'three'\n", "lead_days"),
        ("[daily_capacity]\nfax = 3\n", "fax"),
        ("[daily_capacity]\nwechat = -5\n", "daily_capacity"),
        ("capacity_overflow = 'later'\n", "capacity_overflow"),
        ("[action_weights]\nspam = 1.0\n", "spam"),
        ("quiet_days_after_purchase = \n", "not valid TOML"),
    ],
)
def test_bad_policy_files_are_input_errors(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert fragment in message
    assert "policy.toml" in message
    assert "\n" not in message


def test_missing_policy_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_policy(tmp_path / "absent.toml")
    with pytest.raises(InputError, match="folder"):
        load_policy(tmp_path)


def test_readme_example_policy_is_valid(tmp_path: Path) -> None:
    readme = Path(__file__).resolve().parents[3] / "serving" / "policy" / "README.md"
    example = readme.read_text().split("```toml\n")[-1].split("```")[0]
    path = tmp_path / "example.toml"
    path.write_text(example)
    policy = load_policy(path)
    assert policy.daily_capacity == {"wechat": 500, "sms": 2000}
    assert policy.action_weights["promo_notice"] == 0.5

"""FeatureConfig: defaults, the project config's [features] table, refusals."""

from __future__ import annotations

import pydantic
import pytest

from features.config import FeatureConfig


def test_defaults_are_ordered_and_documented() -> None:
    config = FeatureConfig()
    assert config.lifecycle_at_risk_ratio <= config.lifecycle_lapsed_ratio
    assert config.lifecycle_lapsed_ratio <= config.lifecycle_churned_ratio
    assert config.windows_days == (7, 14, 30, 90, 180, 365)
    assert all(field.description for field in FeatureConfig.model_fields.values())


def test_table_from_project_config() -> None:
    config = FeatureConfig(**{"lifecycle_active_days": 90, "windows_days": [3, 7]})
    assert config.lifecycle_active_days == 90 and config.windows_days == (3, 7)


@pytest.mark.parametrize(
    "table",
    [
        {"lifecycle_activ_days": 90},  # typo: refused, not silently ignored
        {"price_sensitivity_low_share": 0.8, "price_sensitivity_high_share": 0.5},
        {"lifecycle_lapsed_ratio": 10.0},  # above the churned ratio
        {"windows_days": [0]},
        {"rfm_split": "mode"},
    ],
)
def test_bad_tables_are_refused(table: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        FeatureConfig(**table)  # type: ignore[arg-type]

"""The champion/challenger rule on recorded metrics."""

from __future__ import annotations

from training.promotion import HEADLINE_HORIZONS, decide


def metrics(auc: float, brier: float) -> dict[str, float]:
    out = {}
    for h in HEADLINE_HORIZONS:
        out[f"model.p_buy_{h}d.roc_auc"] = auc
        out[f"model.p_buy_{h}d.brier"] = brier
    return out


def test_first_model_becomes_champion() -> None:
    decision = decide(metrics(0.7, 0.1), None, candidate_protocol="v1", champion_protocol=None)
    assert decision.promote
    assert "first champion" in decision.reason


def test_worse_model_does_not_take_the_alias() -> None:
    decision = decide(
        metrics(0.75, 0.10), metrics(0.80, 0.09), candidate_protocol="v1", champion_protocol="v1"
    )
    assert not decision.promote
    assert "worse" in decision.reason


def test_worse_brier_alone_blocks_promotion() -> None:
    decision = decide(
        metrics(0.81, 0.12), metrics(0.80, 0.09), candidate_protocol="v1", champion_protocol="v1"
    )
    assert not decision.promote


def test_equal_or_better_model_is_promoted() -> None:
    same = decide(
        metrics(0.80, 0.09), metrics(0.80, 0.09), candidate_protocol="v1", champion_protocol="v1"
    )
    better = decide(
        metrics(0.82, 0.08), metrics(0.80, 0.09), candidate_protocol="v1", champion_protocol="v1"
    )
    assert same.promote and better.promote


def test_force_overrides_and_is_recorded() -> None:
    decision = decide(
        metrics(0.6, 0.2),
        metrics(0.8, 0.1),
        candidate_protocol="v1",
        champion_protocol="v1",
        force=True,
    )
    assert decision.promote
    assert decision.reason.startswith("forced")


def test_different_protocols_are_not_compared() -> None:
    decision = decide(
        metrics(0.9, 0.05), metrics(0.8, 0.1), candidate_protocol="v2", champion_protocol="v1"
    )
    assert not decision.promote
    assert "protocols differ" in decision.reason

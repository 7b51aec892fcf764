"""Champion/challenger: when a newly trained model may take the `champion` alias.

The rule (also in the README): a candidate replaces the champion when, on the backtest it
was registered with, it is at least as good on every headline metric —

- mean ROC AUC of `p_buy_*` over the horizons is no lower than the champion's minus
  `AUC_TOLERANCE`, and
- mean Brier score over the horizons is no higher than the champion's plus `BRIER_TOLERANCE`,

and both were measured under the same protocol (same horizons, churn window and metric
definitions, recorded as the `protocol` tag). The tolerances only absorb float noise between
runs of the same data; a genuinely worse model never passes. `--force` overrides and the
reason is recorded on the version either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

AUC_TOLERANCE = 0.001
BRIER_TOLERANCE = 0.0005
HEADLINE_HORIZONS = (7, 14, 30, 60, 90)


@dataclass(frozen=True)
class Decision:
    """Whether to promote, and the sentence that explains it (stored as a tag)."""

    promote: bool
    reason: str


def headline(metrics: Mapping[str, float]) -> tuple[float, float]:
    """Mean ROC AUC and mean Brier of the model's `p_buy_*` over the headline horizons."""
    aucs = [metrics[f"model.p_buy_{h}d.roc_auc"] for h in HEADLINE_HORIZONS]
    briers = [metrics[f"model.p_buy_{h}d.brier"] for h in HEADLINE_HORIZONS]
    return sum(aucs) / len(aucs), sum(briers) / len(briers)


def decide(
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    *,
    candidate_protocol: str,
    champion_protocol: str | None,
    force: bool = False,
) -> Decision:
    """Apply the promotion rule to two sets of recorded backtest metrics."""
    cand_auc, cand_brier = headline(candidate)
    if champion is None:
        return Decision(True, f"first champion (mean AUC {cand_auc:.4f})")
    champ_auc, champ_brier = headline(champion)
    comparison = (
        f"mean AUC {cand_auc:.4f} vs champion {champ_auc:.4f}, "
        f"mean Brier {cand_brier:.4f} vs {champ_brier:.4f}"
    )
    if force:
        return Decision(True, f"forced: {comparison}")
    if candidate_protocol != champion_protocol:
        return Decision(
            False,
            f"protocols differ ({candidate_protocol} vs {champion_protocol}); "
            "metrics are not comparable, use --force to promote anyway",
        )
    better_auc = cand_auc >= champ_auc - AUC_TOLERANCE
    better_brier = cand_brier <= champ_brier + BRIER_TOLERANCE
    if better_auc and better_brier:
        return Decision(True, f"at least as good: {comparison}")
    return Decision(False, f"worse than the champion: {comparison}")

"""Baselines the product's models are judged against.

- :class:`BetaGeoModel` (BG/NBD) and :class:`ParetoNBDModel` (Pareto/NBD): "buy till you die"
  models fitted by maximum likelihood on per-customer ``frequency``, ``recency``, ``T``;
- :class:`RecencyRank`: minus days since the last purchase, calibrated per horizon;
- :class:`MedianIntervalRule`: last purchase + the customer's median interval, calibrated.

:func:`customer_summary` and :func:`days_until_next_purchase` compute their inputs and training
labels from the canonical orders frame.
"""

from models.baselines.bg_nbd import BetaGeoModel
from models.baselines.median_interval import MedianIntervalRule
from models.baselines.pareto_nbd import ParetoNBDModel
from models.baselines.recency_rank import RecencyRank
from models.baselines.summary import customer_summary, days_until_next_purchase

__all__ = [
    "BetaGeoModel",
    "MedianIntervalRule",
    "ParetoNBDModel",
    "RecencyRank",
    "customer_summary",
    "days_until_next_purchase",
]

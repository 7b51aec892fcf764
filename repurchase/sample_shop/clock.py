"""Local times of day and the conversion of local simulation days to UTC timestamps.

The simulation runs in each customer's local time ("days since the start date at local
midnight"); files carry UTC. Conversion loops over the handful of time zones, not rows.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

# Hour-of-day weights for online shopping in China: a lunch bump and an evening peak
# (20-23h), very little at night.
# fmt: off
_HOUR_WEIGHTS = np.array([
    2, 1, 0.5, 0.3, 0.2, 0.3, 0.8, 1.5, 2.5, 3.5, 4, 4.5,  # 00-11h
    5.5, 5, 4, 3.8, 4, 4.2, 4.5, 5.5, 7, 7.5, 6.5, 4,  # 12-23h
])
# fmt: on
_HOUR_CDF = np.cumsum(_HOUR_WEIGHTS) / _HOUR_WEIGHTS.sum()
_SECONDS_PER_DAY = 86_400


def shopping_time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Fractions of a day at which people place orders (local time)."""
    hour = np.searchsorted(_HOUR_CDF, rng.random(n), side="right")
    return (np.minimum(hour, 23) + rng.random(n)) / 24.0


def office_time_of_day(rng: np.random.Generator, n: int, first_hour: float = 9.5) -> np.ndarray:
    """Fractions of a day inside CRM sending hours (between `first_hour` and 20:30 local)."""
    return (first_hour + rng.random(n) * (20.5 - first_hour)) / 24.0


def local_days_to_utc(start: dt.date, days: np.ndarray, timezone: pd.Categorical) -> np.ndarray:
    """`datetime64[s]` UTC instants of local times given as days since `start` midnight."""
    seconds = np.round(np.asarray(days, dtype=float) * _SECONDS_PER_DAY).astype(np.int64)
    local = np.datetime64(start, "s") + seconds.astype("timedelta64[s]")
    out = np.empty(len(local), dtype="datetime64[s]")
    codes = np.asarray(timezone.codes)
    for code, zone in enumerate(timezone.categories):
        mask = codes == code
        stamps = pd.DatetimeIndex(local[mask]).tz_localize(
            str(zone), ambiguous=np.zeros(int(mask.sum()), dtype=bool), nonexistent="shift_forward"
        )
        out[mask] = stamps.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[s]")
    return out


def zone_of(customers: pd.DataFrame, rows: np.ndarray) -> pd.Categorical:
    """The (categorical) time zone of the customers at positions `rows`."""
    zones = customers["timezone"].array
    assert isinstance(zones, pd.Categorical)
    return pd.Categorical.from_codes(np.asarray(zones.codes)[rows], categories=zones.categories)

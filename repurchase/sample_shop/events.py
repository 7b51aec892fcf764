"""Sales events: 618 (June 1-18, peak June 18) and Double 11 (Nov 1-11, peak Nov 11).

Every order whose local date falls inside a sale window gets the event discount, whoever
placed it; price-sensitive customers additionally time their purchases to the windows and
stock up (see `purchases.py`). Times are "local days since the start date" (float).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

# name, (window start month/day), (peak month/day), discount rate
_EVENTS: list[tuple[str, tuple[int, int], tuple[int, int], float]] = [
    ("618", (6, 1), (6, 18), 0.20),
    ("double11", (11, 1), (11, 11), 0.25),
]


@dataclass(frozen=True)
class SaleCalendar:
    """Sale windows inside the simulated period, sorted by time.

    `window_start` and `peak` are local days since the start date (the peak day's midnight);
    a window covers `[window_start, peak + 1)`.
    """

    names: list[str]
    window_start: np.ndarray
    peak: np.ndarray
    discount_rate: np.ndarray
    preheat: np.ndarray  # the day the brand announces the sale to its customers

    def window_index(self, days: np.ndarray) -> np.ndarray:
        """For each time, the index of the sale window it falls in, or -1."""
        position = np.searchsorted(self.window_start, days, side="right") - 1
        inside = (position >= 0) & (days < self.peak[np.clip(position, 0, None)] + 1.0)
        return np.where(inside, position, -1)

    def next_peak_index(self, days: np.ndarray) -> np.ndarray:
        """For each time, the index of the first peak at or after it (len(peaks) if none)."""
        return np.searchsorted(self.peak, days, side="left")


def sale_calendar(start: dt.date, end: dt.date) -> SaleCalendar:
    """All sale events whose peak day lies in `[start, end]`."""
    rows = []
    for year in range(start.year, end.year + 1):
        for name, (wm, wd), (pm, pd_), rate in _EVENTS:
            peak = dt.date(year, pm, pd_)
            if start <= peak <= end:
                window_start = max(dt.date(year, wm, wd), start)
                preheat = window_start - dt.timedelta(days=3)
                rows.append((f"{name}_{year}", window_start, peak, rate, preheat))
    rows.sort(key=lambda row: row[2])
    return SaleCalendar(
        names=[row[0] for row in rows],
        window_start=np.array([(row[1] - start).days for row in rows], dtype=float),
        peak=np.array([(row[2] - start).days for row in rows], dtype=float),
        discount_rate=np.array([row[3] for row in rows], dtype=float),
        preheat=np.array([(row[4] - start).days for row in rows], dtype=float),
    )

"""The sale calendar."""

from __future__ import annotations

import datetime as dt

import numpy as np

from repurchase.sample_shop.events import sale_calendar


def test_calendar_lists_618_and_double_11_inside_the_period() -> None:
    calendar = sale_calendar(dt.date(2024, 11, 1), dt.date(2026, 10, 31))
    assert calendar.names == ["double11_2024", "618_2025", "double11_2025", "618_2026"]
    # 2025-06-18 is day 229 after 2024-11-01; its window opens on June 1 (day 212)
    assert calendar.peak[1] == 229 and calendar.window_start[1] == 212
    # the 2024 window is cut at the start of the period
    assert calendar.window_start[0] == 0 and calendar.peak[0] == 10


def test_window_index_covers_window_start_to_end_of_peak_day() -> None:
    calendar = sale_calendar(dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    june_1, june_18 = 151.0, 168.0
    days = np.array([june_1 - 0.01, june_1, june_18 + 0.99, june_18 + 1.0])
    np.testing.assert_array_equal(calendar.window_index(days), [-1, 0, 0, -1])

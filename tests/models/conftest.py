"""Reuse the synthetic shop of tests/training (loaded by path: test folders are not packages)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "training_test_conftest", Path(__file__).parents[1] / "training" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_shop = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shop)

make_shop = _shop.make_shop
shop_orders = _shop.shop_orders
shop_as_of = _shop.shop_as_of
small_trained_model = _shop.small_trained_model

"""The sample brand's product catalog: four consumable categories and a few gadgets.

`days_of_supply` is how many days one unit lasts a customer whose usage rate is 1 (the
label's recommended dose: one capsule a day, one scoop per meal, ...). Gadgets are durables:
they have no consumption cycle, so their `days_of_supply` is empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# category -> share of consumable customers whose main product is in it
CATEGORY_SHARES: dict[str, float] = {
    "supplements": 0.30,
    "skincare": 0.25,
    "coffee": 0.25,
    "pet_food": 0.20,
}

# (sku, category, name, price in CNY, days_of_supply, popularity within its category)
_PRODUCTS: list[tuple[str, str, str, float, float, float]] = [
    ("SUP-VITD-60", "supplements", "Vitamin D3 60 softgels", 89.0, 60.0, 0.30),
    ("SUP-FISH-90", "supplements", "Fish oil 90 capsules (2 a day)", 159.0, 45.0, 0.25),
    ("SUP-PROB-30", "supplements", "Probiotic 30 sachets", 129.0, 30.0, 0.30),
    ("SUP-COLL-30", "supplements", "Collagen drink 30 bottles", 199.0, 30.0, 0.15),
    ("SKN-SERUM-30", "skincare", "Vitamin C serum 30 ml", 329.0, 45.0, 0.25),
    ("SKN-CREAM-50", "skincare", "Night cream 50 ml", 268.0, 60.0, 0.20),
    ("SKN-CLNS-150", "skincare", "Gentle cleanser 150 ml", 99.0, 40.0, 0.35),
    ("SKN-SUN-50", "skincare", "Sunscreen SPF50 50 ml", 139.0, 30.0, 0.20),
    ("COF-BEAN-250", "coffee", "Espresso beans 250 g", 78.0, 14.0, 0.35),
    ("COF-BEAN-1KG", "coffee", "Espresso beans 1 kg", 268.0, 50.0, 0.20),
    ("COF-CAPS-50", "coffee", "Coffee capsules 50 pcs", 149.0, 25.0, 0.25),
    ("COF-DRIP-20", "coffee", "Drip bags 20 pcs", 59.0, 10.0, 0.20),
    ("PET-DOG-2KG", "pet_food", "Dog food 2 kg", 139.0, 20.0, 0.25),
    ("PET-DOG-8KG", "pet_food", "Dog food 8 kg", 459.0, 75.0, 0.20),
    ("PET-CAT-1.5KG", "pet_food", "Cat food 1.5 kg", 119.0, 25.0, 0.35),
    ("PET-CAT-CAN24", "pet_food", "Cat wet food 24 cans", 168.0, 12.0, 0.20),
    ("GAD-PILLBOX", "gadgets", "Smart pill box", 159.0, np.nan, 0.20),
    ("GAD-LEDMASK", "gadgets", "LED beauty mask", 1299.0, np.nan, 0.15),
    ("GAD-GRINDER", "gadgets", "Burr coffee grinder", 399.0, np.nan, 0.25),
    ("GAD-SCALE", "gadgets", "Coffee scale", 129.0, np.nan, 0.15),
    ("GAD-FEEDER", "gadgets", "Smart pet feeder", 599.0, np.nan, 0.25),
]

# the gadget a customer of each category is most likely to add to an order
GADGET_FOR_CATEGORY: dict[str, str] = {
    "supplements": "GAD-PILLBOX",
    "skincare": "GAD-LEDMASK",
    "coffee": "GAD-GRINDER",
    "pet_food": "GAD-FEEDER",
}


def build_catalog() -> pd.DataFrame:
    """The product table: `sku`, `category`, `name`, `price`, `days_of_supply`, `popularity`.

    Row order is fixed; other modules refer to products by their row position (`sku_code`).
    """
    catalog = pd.DataFrame(
        _PRODUCTS, columns=["sku", "category", "name", "price", "days_of_supply", "popularity"]
    )
    # popularity is a within-category sampling weight; normalise so each category sums to 1
    catalog["popularity"] = catalog["popularity"] / catalog.groupby("category")[
        "popularity"
    ].transform("sum")
    return catalog


def products_table(catalog: pd.DataFrame) -> pd.DataFrame:
    """The public `products.csv` view of the catalog (no sampling weights)."""
    return catalog[["sku", "category", "name", "price", "days_of_supply"]].copy()

"""A realistic synthetic shop: the sample brand the team validates its models on.

`generate_shop(n_customers, seed=..., start=..., end=...)` simulates a brand selling four
consumable categories (supplements, skincare, coffee, pet food; several SKUs each, with a
`days_of_supply` per unit) and a few durable gadgets, and returns a :class:`SampleShop`;
`write_shop(shop, out_dir)` writes `orders.csv`, `products.csv`, `customers.csv`,
`contacts.csv` and `truth.csv`. The same seed gives byte-identical files.

The generating process (all times are the customer's local time, files carry UTC):

1. Customers are acquired over the period, three times as many per day at the end as at the
   start, with extra acquisitions in sale windows. The first order is placed on acquisition.
2. Each customer has a main consumable SKU (6% are gadget-only buyers; 22% of the others also
   use a second category) and repeats: buy `q` units -> they run out after
   `q * days_of_supply / usage_rate` days -> the next order comes at the run-out time times
   `exp(regularity * N(0, 1))`. A customer's usual `q` is their `usual_quantity`.
3. Sale events (618: June 1-18, Double 11: Nov 1-11) discount every order in their window;
   price-sensitive customers move purchases into the windows and stock up (more units).
4. A replenishment reminder sent in the last three weeks before the natural purchase brings
   35% of its recipients forward to within a few days of it (a real, modest uplift).
5. Nobody buys after their hidden dropout time; one-and-done buyers drop right after the
   first order.

`truth.csv` (one row per customer):

- `customer_id`, `acquired_on` (local date of the first order), `acquisition_channel`
  (`wecom`, `package_card`, `web`, `tmall`, `douyin`), `main_category`, `main_sku` (the
  consumable they repeat; a gadget SKU and category `gadgets` for gadget-only buyers);
- `usual_quantity`: units in a regular (non-sale) order of the main SKU;
- `usage_rate`: units used per label-day of supply (1 = as the label says; 0.8 = a unit lasts
  1/0.8 = 1.25 times its `days_of_supply`);
- `true_cycle_days`: `usual_quantity * days_of_supply(main_sku) / usage_rate`, in days: the
  run-out interval of a regular order, which is exactly the *median* gap between two
  consecutive orders of the main SKU when neither is moved by a sale or a reminder (the mean
  is `exp(regularity^2 / 2)` times it, <= 5% more). After a sale stock-up of `q` units the
  following gap scales to `q / usual_quantity` times it. Empty for gadget-only buyers.
  Observed gaps of the main SKU divided by `quantity / usual_quantity` of the earlier order
  scatter around it (orders are placed at a realistic hour of the day, which moves each one
  by at most half a day from the simulated instant);
- `regularity`: the standard deviation of the log gap around the run-out time (about the
  coefficient of variation of the gaps; 0.04-0.46, typically 0.1-0.2);
- `secondary_sku`, `secondary_quantity`, `secondary_cycle_days`: the same for the second
  category, if any (its orders often join a main order placed within four days);
- `price_sensitivity_score` in [0, 1] (0 never waits for a deal, 1 buys on deals only;
  drives coupon use, pull-forward into sales and stock-up size) and `price_sensitivity`
  (`low` < 0.35 <= `medium` < 0.60 <= `high`);
- `value_level` (`low`/`medium`/`high`: basket size, hence `usual_quantity`);
- `one_and_done` (true: never buys again after the first order);
- `dropout_date`: local date on which the customer silently lapses; no paid order of theirs
  is after that date (a return of an earlier order may be). Dates past the end of the
  period mean the customer was still active at the end.

`orders.csv` is one row per order line (`order_id`, `customer_id`, `ordered_at` ISO UTC,
`sku`, `quantity`, `amount` net of `discount`, `discount`, `channel`, `status`); see
`orders.py` for cancelled/refunded orders and returns. `customers.csv` carries `timezone`,
`consent_email`/`consent_sms`/`consent_wechat`, `preferred_channel` (always a consented
channel, empty if none), `acquisition_channel` and `signed_up_on`. `contacts.csv` is the touch
history (see `touches.py`); every touch uses a consented channel.
"""

from repurchase.sample_shop.shop import SampleShop, generate_shop, write_shop

__all__ = ["SampleShop", "generate_shop", "write_shop"]

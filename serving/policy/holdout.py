"""The control group: a random hold-out that is never contacted.

A brand can only see whether contacting works by comparing contacted customers with similar
customers who were not contacted. The hold-out must be *stable*: a customer in the control
group today is in it tomorrow, in every run, on every machine, or the comparison leaks.

So membership is a pure function of ``(customer_id, salt)``: a keyed 64-bit SipHash of
``salt + "\\x1f" + customer_id`` (pandas' ``hash_array``, fixed key, vectorised) mapped to
``[0, 1)``; the customer is held out when that number is below ``holdout_fraction``.
Python's ``hash()`` is not used because it is randomised per process. Raising the fraction
keeps every current hold-out customer in the group (the threshold only grows); changing the
salt draws a fresh group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_SEPARATOR = "\x1f"  # unit separator: cannot be confused with characters of an id


def holdout_draw(customer_ids: pd.Series, salt: str) -> np.ndarray:
    """A number in [0, 1) per customer, the same in every run for the same id and salt."""
    keyed = (salt + _SEPARATOR + customer_ids.astype("string")).to_numpy(dtype=object)
    hashed = pd.util.hash_array(keyed, categorize=False)
    # Top 53 bits -> an exactly representable double in [0, 1).
    return (hashed >> np.uint64(11)).astype(np.float64) / float(2**53)


def is_holdout(customer_ids: pd.Series, fraction: float, salt: str) -> np.ndarray:
    """True for the customers in the control group (about `fraction` of them)."""
    if fraction <= 0 or len(customer_ids) == 0:
        return np.zeros(len(customer_ids), dtype=bool)
    return holdout_draw(customer_ids, salt) < fraction

"""The control group: stable per customer, about the right size, reshuffled only by the salt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from serving.policy.holdout import holdout_draw, is_holdout

IDS = pd.Series([f"customer-{i}" for i in range(20_000)], dtype="string")
REPO = Path(__file__).resolve().parents[3]


def test_fraction_is_about_right() -> None:
    # 20,000 Bernoulli(0.1) draws: standard deviation of the share is 0.0021; allow 4 of them.
    share = is_holdout(IDS, 0.1, "salt").mean()
    assert abs(share - 0.1) < 0.0085


def test_draw_is_uniform_enough() -> None:
    counts, _ = np.histogram(holdout_draw(IDS, "salt"), bins=10, range=(0.0, 1.0))
    assert counts.min() > 1800 and counts.max() < 2200


def test_membership_does_not_depend_on_the_company_of_other_customers() -> None:
    full = is_holdout(IDS, 0.1, "salt")
    order = np.random.default_rng(0).permutation(len(IDS))[:5000]
    part = is_holdout(IDS.iloc[order].reset_index(drop=True), 0.1, "salt")
    assert np.array_equal(part, full[order])


def test_stable_across_processes_with_different_hash_seeds() -> None:
    # Python's own hash() changes with PYTHONHASHSEED; the hold-out must not.
    code = (
        "import pandas as pd; from serving.policy.holdout import is_holdout;"
        "ids = pd.Series([f'customer-{i}' for i in range(2000)], dtype='string');"
        "print(''.join('1' if x else '0' for x in is_holdout(ids, 0.1, 'salt')))"
    )
    # This process runs with a random hash seed; the child with a fixed, different one.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True
    )
    here = "".join("1" if x else "0" for x in is_holdout(IDS.iloc[:2000], 0.1, "salt"))
    assert done.stdout.strip() == here
    # A pinned value guards against silent changes of the hash between library versions:
    # customer-0 .. customer-9 under salt "salt", computed once with this implementation.
    assert here[:10] == PINNED_FIRST_TEN


PINNED_FIRST_TEN = "0010001000"


def test_growing_the_fraction_keeps_everyone_already_held_out() -> None:
    small = is_holdout(IDS, 0.05, "salt")
    large = is_holdout(IDS, 0.2, "salt")
    assert not (small & ~large).any()
    assert large.sum() > small.sum()


def test_a_new_salt_draws_a_new_group() -> None:
    first = is_holdout(IDS, 0.1, "salt")
    second = is_holdout(IDS, 0.1, "another salt")
    overlap = (first & second).sum() / first.sum()
    assert overlap < 0.2  # independent groups overlap about 10 %


def test_zero_fraction_holds_out_nobody() -> None:
    assert not is_holdout(IDS, 0.0, "salt").any()

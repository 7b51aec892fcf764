"""`tree_contributions` equals LightGBM's own `pred_contrib`, so the reasons do not change."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from models.reasons import describe_reasons, tree_contributions


def _data(seed: int = 0, n: int = 3_000) -> tuple[np.ndarray, np.ndarray]:
    """Features with NaNs, exact zeros and ties: every way LightGBM routes a value."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, 6))
    values[:, 1] = np.round(values[:, 1])  # many ties and zeros
    values[rng.random(n) < 0.2, 2] = np.nan
    values[rng.random(n) < 0.3, 3] = 0.0
    values[rng.random(n) < 0.1, 4] = np.nan
    logit = values[:, 0] + np.nan_to_num(values[:, 2]) - values[:, 1] * 0.5 + values[:, 3]
    labels = (logit + rng.normal(size=n) > 0).astype(int)
    return values, labels


@pytest.mark.parametrize("zero_as_missing", [False, True])
def test_contributions_equal_lightgbm_pred_contrib(zero_as_missing: bool) -> None:
    values, labels = _data()
    booster = lgb.train(
        {
            "objective": "binary",
            "num_leaves": 15,
            "min_data_in_leaf": 20,
            "verbose": -1,
            "zero_as_missing": zero_as_missing,
            "num_threads": 1,
        },
        lgb.Dataset(values, labels),
        num_boost_round=40,
    )
    missing_types = {
        node.get("missing_type")
        for tree in booster.dump_model()["tree_info"]
        for node in _nodes(tree["tree_structure"])
    }
    assert missing_types >= ({"Zero"} if zero_as_missing else {"NaN", "None"})
    scored, _ = _data(seed=1, n=2_000)  # other rows than the training ones

    fast = tree_contributions(booster, scored)
    reference = np.asarray(booster.predict(scored, pred_contrib=True))[:, :-1]

    np.testing.assert_allclose(fast, reference, rtol=0, atol=1e-12)
    columns = [f"x{i}" for i in range(scored.shape[1])]
    frame = pd.DataFrame(scored, columns=columns)
    assert describe_reasons(frame, fast, columns).equals(
        describe_reasons(frame, reference, columns)
    )


def test_threads_sharing_one_booster_get_their_own_trees() -> None:
    """The API's and Dask's worker threads share one model: per-tree predictions on one
    booster from two threads at once used to mix up the trees (reasons differed in ~2.5% of
    rows). Several threads, plus whole-model predictions on the same booster, must each get
    LightGBM's numbers."""
    values, labels = _data(n=2_000)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 15, "verbose": -1, "num_threads": 1},
        lgb.Dataset(values, labels),
        num_boost_round=60,
    )
    reference = np.asarray(booster.predict(values, pred_contrib=True))[:, :-1]
    probabilities = booster.predict(values)

    def contributions(_: int) -> np.ndarray:
        return tree_contributions(booster, values)

    def whole_model(_: int) -> np.ndarray:
        return np.asarray(booster.predict(values))

    with ThreadPoolExecutor(max_workers=6) as pool:
        fast = [pool.submit(contributions, i) for i in range(12)]
        whole = [pool.submit(whole_model, i) for i in range(12)]
        for future in fast:
            np.testing.assert_allclose(future.result(), reference, rtol=0, atol=1e-12)
        for future in whole:
            np.testing.assert_array_equal(future.result(), probabilities)


def test_patterns_known_from_earlier_calls_give_lightgbm_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch calls once per partition with the same trees: patterns met before are not
    asked of LightGBM again, and the numbers stay LightGBM's, also past the cap on how many
    are kept."""
    from models import reasons

    values, labels = _data(n=3_000)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 15, "verbose": -1, "num_threads": 1},
        lgb.Dataset(values, labels),
        num_boost_round=30,
    )
    calls: list[int] = []
    one_tree = reasons._one_tree

    def counted(private: object, rows_of: np.ndarray, tree: int, rows: np.ndarray) -> np.ndarray:
        calls.append(len(rows))
        return one_tree(private, rows_of, tree, rows)

    monkeypatch.setattr(reasons, "_one_tree", counted)
    asked = []  # rows LightGBM computed per call
    for part in (values[:1_500], values[1_000:], values[:1_500]):
        calls.clear()
        reference = np.asarray(booster.predict(part, pred_contrib=True))[:, :-1]
        np.testing.assert_allclose(tree_contributions(booster, part), reference, atol=1e-12)
        asked.append(sum(calls))
    # the second call shares a third of its rows with the first, the third all of them
    assert 0 < asked[1] < asked[0] and asked[2] == 0

    monkeypatch.setattr(reasons, "_MAX_KNOWN_PATTERNS", 5)
    other = _data(seed=4, n=800)[0]
    reference = np.asarray(booster.predict(other, pred_contrib=True))[:, :-1]
    np.testing.assert_allclose(tree_contributions(booster, other), reference, atol=1e-12)


def test_no_rows_give_an_empty_matrix() -> None:
    values, labels = _data(n=500)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1},
        lgb.Dataset(values, labels),
        num_boost_round=3,
    )
    assert tree_contributions(booster, values[:0]).shape == (0, 6)


def _nodes(node: dict) -> list[dict]:
    if "split_feature" not in node:
        return []
    return [node, *_nodes(node["left_child"]), *_nodes(node["right_child"])]


def test_reasons_rank_by_size_and_break_ties_by_column_order() -> None:
    columns = ["a", "b", "c", "d"]
    frame = pd.DataFrame({"a": [1.0, 1.0], "b": [2.0, 2.0], "c": [3.0, 3.0], "d": [4.0, 4.0]})
    contributions = np.array([[0.0, 0.5, -0.5, 0.1], [0.0, 0.0, 0.0, 0.0]])
    reasons = describe_reasons(frame, contributions, columns).tolist()
    assert reasons == [
        "b = 2.0 (raises); c = 3.0 (lowers); d = 4.0 (raises)",
        "a = 1.0 (raises); b = 2.0 (raises); c = 3.0 (raises)",
    ]


def test_a_few_rows_get_the_same_contributions_as_the_same_rows_among_many() -> None:
    """Small frames (the API's batches) take LightGBM's TreeSHAP directly, large ones the
    per-pattern path: a row's contributions must not depend on which path scored it."""
    values, labels = _data(n=2_000)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 15, "verbose": -1, "num_threads": 1},
        lgb.Dataset(values, labels),
        num_boost_round=40,
    )
    many = tree_contributions(booster, values)
    for few in (1, 7, 64):
        small = tree_contributions(booster, values[:few])
        assert small.shape == (few, 6)
        np.testing.assert_allclose(small, many[:few], rtol=0, atol=1e-12)


def test_a_phrase_may_quote_a_column_that_is_not_a_chosen_factor() -> None:
    """The days-since-last-order phrase quotes the cycle length, which is not a model column
    here: describe_reasons must hand it over even though no row ranks it."""
    columns = ["days_since_last_order", "n_orders"]
    frame = pd.DataFrame(
        {"days_since_last_order": [40.0, 10.0], "n_orders": [3.0, 5.0], "cycle_days": [30.0, 30.0]}
    )
    contributions = np.array([[-0.8, 0.1], [0.6, -0.2]])
    assert describe_reasons(frame, contributions, columns, top=1).tolist() == [
        "last order 40 days ago (late for a 30-day cycle) (lowers)",
        "last order 10 days ago (within a 30-day cycle) (raises)",
    ]


def test_phrases_worded_once_per_distinct_value_equal_phrases_worded_per_row() -> None:
    """describe_reasons words each distinct input once and spreads it; the text must be
    what wording every row gives, including missing values and a negative zero."""
    from models.reasons import _phrase, _phrased_once_per_input

    rng = np.random.default_rng(3)
    n = 5_000
    frame = pd.DataFrame(
        {
            "days_since_last_order": rng.integers(0, 60, n).astype(float),
            "cycle_days": rng.choice([30.0, 45.5, np.nan], n),
            "monetary_value": rng.choice([0.0, -0.0, 12.345, np.nan, 99.999], n),
            "other_feature": rng.choice([1.0, -0.0, 0.0, 2.5, np.nan], n),
            "n_orders": rng.integers(1, 5, n),
        }
    )
    for column in ("days_since_last_order", "monetary_value", "other_feature", "n_orders"):
        expected = _phrase(frame, column).fillna(column.replace("_", " ") + " unknown")
        got = _phrased_once_per_input(frame, np.arange(n), column)
        assert got.tolist() == expected.tolist(), column

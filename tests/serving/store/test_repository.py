"""serving/store/repository.py on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from features.tables import read_orders
from serving.store import make_session_factory
from serving.store import repository as repo

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)


def orders_frame() -> pd.DataFrame:
    """Three lines of two customers; one line has no sku, one a +08:00 timestamp."""
    return pd.DataFrame(
        {
            "customer_id": pd.array(["a", "a", "b"], dtype="string"),
            "ordered_at": pd.to_datetime(
                ["2024-01-01T00:00:00Z", "2024-02-01T10:00:00+08:00", "2024-03-01T00:00:00Z"],
                utc=True,
                format="ISO8601",
            ).astype("datetime64[ns, UTC]"),
            "amount": [10.0, 20.0, -5.0],
            "order_id": pd.array(["o1", "o2", "o3"], dtype="string"),
            "sku": pd.array([None, "x", "y"], dtype="string"),
            "quantity": [1.0, 2.0, 1.0],
            "discount": [0.0, 1.5, 0.0],
            "channel": pd.array(["web", None, "wecom"], dtype="string"),
            "status": pd.array(["paid", "paid", "refunded"], dtype="string"),
        }
    )


def test_orders_round_trip_keeps_the_canonical_frame(session: Session) -> None:
    orders = orders_frame()
    outcome = repo.add_orders(session, orders, received_at=NOW)
    session.commit()
    assert (outcome.received, outcome.inserted, outcome.customer_ids) == (3, 3, ["a", "b"])
    stored = repo.orders_for_customers(session, ["a", "b", "nobody"])
    # 10:00+08:00 is 02:00 UTC: the offset is applied, not dropped.
    assert stored.loc[1, "ordered_at"] == pd.Timestamp("2024-02-01T02:00:00Z")
    assert_frame_equal(stored, orders)


def test_orders_are_idempotent_on_order_id_and_sku(session: Session) -> None:
    repo.add_orders(session, orders_frame(), received_at=NOW)
    session.commit()
    again = pd.concat([orders_frame(), orders_frame().iloc[[0]]], ignore_index=True)
    outcome = repo.add_orders(session, again, received_at=NOW)
    session.commit()
    assert (outcome.received, outcome.inserted, outcome.duplicates) == (4, 0, 4)
    assert outcome.customer_ids == []
    assert repo.count_orders(session) == 3


def test_a_new_sku_of_a_known_order_is_a_new_line(session: Session) -> None:
    repo.add_orders(session, orders_frame(), received_at=NOW)
    extra = orders_frame().iloc[[1]].assign(sku=pd.array(["z"], dtype="string"))
    outcome = repo.add_orders(session, extra, received_at=NOW)
    session.commit()
    assert (outcome.inserted, outcome.customer_ids) == (1, ["a"])
    assert repo.count_orders(session) == 4


def test_orders_read_from_a_file_survive_the_store(session: Session, tmp_path: Path) -> None:
    """The input contract (read_orders) and the store agree on every column and dtype."""
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,ordered_at,amount,order_id,sku,quantity,discount,channel,status\n"
        "00042,2024-01-05,12.5,A1,s1,2,0.5,Web,paid\n"
        "00042,2024-01-05,12.5,A1,s1,2,0.5,Web,paid\n"
        "7,2024-02-05T08:00:00,3,A2,,1,0,,cancelled\n"
    )
    orders = read_orders(path)
    repo.add_orders(session, orders, received_at=NOW)
    session.commit()
    stored = repo.orders_for_customers(session, ["00042", "7"])
    expected = orders.sort_values(["customer_id", "ordered_at"]).reset_index(drop=True)
    assert_frame_equal(stored, expected)


def test_concurrent_duplicate_posts_store_each_line_once(engine: Engine) -> None:
    """Two writers racing with the same lines: ON CONFLICT, not a read-then-write check."""
    sessions = make_session_factory(engine)
    orders = pd.concat([orders_frame()] * 1, ignore_index=True)
    inserted: list[int] = []

    def post() -> None:
        with sessions() as session:
            inserted.append(repo.add_orders(session, orders, received_at=NOW).inserted)
            session.commit()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(inserted) == 3
    with sessions() as session:
        assert repo.count_orders(session) == 3


def test_contacts_round_trip_and_idempotency(session: Session) -> None:
    touches = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "contacted_at": pd.to_datetime(
                ["2024-01-02T09:00:00Z", "2024-01-02T09:00:00Z", "2024-01-03T01:00:00+08:00"],
                utc=True,
                format="ISO8601",
            ),
            "channel": ["sms", "sms", None],
            "campaign": ["spring", "spring", None],
        }
    )
    first = repo.add_contacts(session, touches)
    second = repo.add_contacts(session, touches)
    session.commit()
    assert (first.inserted, second.inserted) == (2, 0)
    stored = repo.contacts_for_customers(session, ["a", "b"]).sort_values("customer_id")
    assert stored["contacted_at"].tolist() == [
        pd.Timestamp("2024-01-02T09:00:00Z"),
        pd.Timestamp("2024-01-02T17:00:00Z"),
    ]
    assert stored["channel"].isna().tolist() == [False, True]
    assert str(stored["contacted_at"].dtype) == "datetime64[ns, UTC]"


def test_customer_upsert_replaces_all_attributes(session: Session) -> None:
    repo.upsert_customer(
        session,
        "a",
        {"timezone": "Asia/Shanghai", "consent_sms": True, "tags": {"vip": True, "n": 2}},
        updated_at=NOW,
    )
    session.commit()
    customer = repo.get_customer(session, "a")
    assert customer is not None
    assert (customer.timezone, customer.consent_sms, customer.tags) == (
        "Asia/Shanghai",
        True,
        {"vip": True, "n": 2},
    )
    # PUT semantics: what is not sent goes back to its default.
    repo.upsert_customer(session, "a", {"consent_email": True}, updated_at=NOW)
    session.commit()
    frame = repo.customers_frame(session, ["a", "b"])
    assert frame is not None
    assert frame.to_dict("records")[0] | {"birthday": None} == {
        "customer_id": "a",
        "timezone": "UTC",
        "consent_email": True,
        "consent_sms": False,
        "consent_wechat": False,
        "preferred_channel": None,
        "birthday": None,
    }
    assert repo.customers_frame(session, ["nobody"]) is None


def score_frame(customer_ids: list[str], p30: float) -> pd.DataFrame:
    n = len(customer_ids)
    return pd.DataFrame(
        {
            "customer_id": customer_ids,
            "as_of": ["2024-06-01"] * n,
            "p_buy_7d": [p30 / 4] * n,
            "p_buy_14d": [p30 / 2] * n,
            "p_buy_30d": [p30] * n,
            "p_buy_60d": [min(1.0, p30 * 1.5)] * n,
            "p_buy_90d": [min(1.0, p30 * 2)] * n,
            "next_purchase_date": [pd.Timestamp("2024-06-20")] + [pd.NaT] * (n - 1),
            "next_purchase_low": [""] * n,
            "next_purchase_high": [None] * n,
            "p_churn": [0.1] * n,
            "predicted_value_365d": [120.0] * n,
            "rfm_segment": ["important_value"] * n,
            "lifecycle_stage": ["active"] * n,
            "price_sensitivity": ["low"] * n,
            "depletion_date": ["2024-06-25"] * n,
            "reasons": ["last order 12 days ago"] * n,
            "model_version": ["3"] * n,
        }
    )


def test_scores_keep_the_latest_per_customer(session: Session) -> None:
    assert repo.save_scores(session, score_frame(["a", "b"], 0.2), scored_at=NOW) == 2
    repo.save_scores(session, score_frame(["a"], 0.4), scored_at=NOW)
    session.commit()
    a, b = repo.get_score(session, "a"), repo.get_score(session, "b")
    assert a is not None and b is not None
    assert (a.p_buy_30d, b.p_buy_30d) == (0.4, 0.2)
    assert a.next_purchase_date == dt.date(2024, 6, 20)
    assert (a.next_purchase_low, a.next_purchase_high) == (None, None)
    assert (a.as_of, a.depletion_date) == (dt.date(2024, 6, 1), dt.date(2024, 6, 25))


def plan_frame(rows: list[tuple[str, str, str | None, float, bool]]) -> pd.DataFrame:
    """(customer_id, contact_on, channel, priority, holdout) rows with fixed other columns."""
    frame = pd.DataFrame(
        rows, columns=["customer_id", "contact_on", "channel", "priority", "holdout"]
    )
    frame["send_at"] = [
        None if holdout else f"{day}T10:00:00+08:00" for _, day, _, _, holdout in rows
    ]
    frame["action"] = "replenish_reminder"
    frame["offer"] = "content"
    frame["expected_value"] = frame["priority"] * 10
    frame["reasons"] = "running out"
    return frame[repo.PLAN_COLUMNS]


def test_plan_listing_orders_filters_and_hides_holdout(session: Session) -> None:
    plan = plan_frame(
        [
            ("a", "2024-06-05", "sms", 0.5, False),
            ("b", "2024-06-05", "wechat", 0.9, False),
            ("c", "2024-06-05", None, 0.7, True),
            ("d", "2024-06-06", "sms", 0.99, False),
            ("a", "2024-06-20", "sms", 0.1, False),
        ]
    )
    repo.replace_plan(session, plan, as_of=dt.date(2024, 6, 1), planned_at=NOW)
    session.commit()
    day = dt.date(2024, 6, 5)
    assert [r.customer_id for r in repo.plan_for_day(session, day)] == ["b", "a"]
    assert [r.customer_id for r in repo.plan_for_day(session, day, include_holdout=True)] == [
        "b",
        "c",
        "a",
    ]
    assert [r.customer_id for r in repo.plan_for_day(session, day, channel="sms")] == ["a"]
    assert len(repo.plan_for_day(session, day, limit=1)) == 1
    row = repo.plan_for_day(session, day)[0]
    assert (row.send_at, row.holdout, row.expected_value) == (
        "2024-06-05T10:00:00+08:00",
        False,
        9.0,
    )
    nxt = repo.next_contact(session, "a", on_or_after=dt.date(2024, 6, 6))
    assert nxt is not None and nxt.contact_on == dt.date(2024, 6, 20)


def test_replacing_the_plan_of_some_customers_keeps_the_others(session: Session) -> None:
    first = plan_frame(
        [("a", "2024-06-05", "sms", 0.5, False), ("b", "2024-06-05", "sms", 0.6, False)]
    )
    repo.replace_plan(session, first, as_of=dt.date(2024, 6, 1), planned_at=NOW)
    update = plan_frame([("a", "2024-06-09", "sms", 0.8, False)])
    repo.replace_plan(
        session, update, as_of=dt.date(2024, 6, 2), planned_at=NOW, customer_ids=["a"]
    )
    session.commit()
    assert [r.customer_id for r in repo.plan_for_day(session, dt.date(2024, 6, 5))] == ["b"]
    assert [r.customer_id for r in repo.plan_for_day(session, dt.date(2024, 6, 9))] == ["a"]
    repo.replace_plan(session, update.iloc[0:0], as_of=dt.date(2024, 6, 3), planned_at=NOW)
    session.commit()
    assert repo.plan_for_day(session, dt.date(2024, 6, 5)) == []


@pytest.mark.parametrize("missing", ["order_id", "amount"])
def test_frames_without_required_columns_are_refused(session: Session, missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        repo.add_orders(session, orders_frame().drop(columns=[missing]), received_at=NOW)

"""The CRM store's contract, run on both stores (memory and SQLite), and what
only the SQLite one promises: a restart keeps everything, foreign files are
refused, damaged rows are bad input."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccroute import HistoryRecord, InputError, InvalidValueError, SQLiteStorage, StorageError
from ccroute.crm import CRMStore, LastServed, MemoryCRM, SQLiteCRM
from ccroute.hooktypes import HistoryTransfer


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CRMStore]:
    made: CRMStore = MemoryCRM() if request.param == "memory" else SQLiteCRM(tmp_path / "crm.db")
    yield made
    made.close()


def rec(
    contact_id: str,
    customer_id: str | None = "cust",
    ended_at: float = 100.0,
    agent_id: str | None = "ann",
    **more: Any,
) -> HistoryRecord:
    answered = more.pop("answered_at", None if agent_id is None else ended_at - 50)
    return HistoryRecord(
        contact_id=contact_id,
        customer_id=customer_id,
        channel=more.pop("channel", "voice"),
        queue=more.pop("queue", "support"),
        outcome=more.pop("outcome", "completed" if agent_id else "abandoned"),
        arrived_at=more.pop("arrived_at", ended_at - 60),
        ended_at=ended_at,
        answered_at=answered,
        agent_id=agent_id,
        **more,
    )


# ------------------------------------------------------------------ profiles


def test_a_profile_is_stored_replaced_and_copied(store: CRMStore) -> None:
    assert store.profile("cust") is None
    profile = {"tier": "gold", "langs": ["fr", "en"], "case": {"owner": "bob"}}
    store.put_profile("cust", profile)
    profile["langs"].append("de")  # the caller's object is not the store's
    got = store.profile("cust")
    assert got == {"tier": "gold", "langs": ["fr", "en"], "case": {"owner": "bob"}}
    assert got is not None
    got["tier"] = "changed"
    assert store.profile("cust") == {
        "tier": "gold",
        "langs": ["fr", "en"],
        "case": {"owner": "bob"},
    }
    store.put_profile("cust", {"tier": "silver"})
    assert store.profile("cust") == {"tier": "silver"}


@pytest.mark.parametrize(
    ("customer", "profile", "message"),
    [
        ("cust", {"when": object()}, "profile of customer 'cust'"),
        ("cust", {1: "x"}, "profile of customer 'cust'"),
        ("cust", {"x": float("nan")}, "profile of customer 'cust'"),
        ("cust", ["not", "a", "mapping"], "must be a mapping"),
        ("", {"tier": "gold"}, "customer id"),
        (None, {"tier": "gold"}, "customer id"),
    ],
)
def test_a_bad_profile_is_refused_and_changes_nothing(
    store: CRMStore, customer: Any, profile: Any, message: str
) -> None:
    store.put_profile("cust", {"tier": "gold"})
    with pytest.raises(InvalidValueError, match=message):
        store.put_profile(customer, profile)
    assert store.profile("cust") == {"tier": "gold"}


# ------------------------------------------------------------------- history


def test_every_field_comes_back(store: CRMStore) -> None:
    full = rec(
        "c1",
        completed_at=90.0,
        disposition="sale",
        transfers=(
            HistoryTransfer(45.0, "transfer", "sales", "support", "bob", None),
            HistoryTransfer(47.5, "overflow", "support", "overflow"),
        ),
        attributes={"ivr": {"intent": "billing", "account": "1234"}, "note": [1, 2.5, None]},
        channel="chat",
    )
    store.record(full)
    (got,) = store.history("cust")
    assert got == full
    assert got.ivr == {"intent": "billing", "account": "1234"}
    assert dict(got.attributes) == dict(full.attributes)


def test_history_is_newest_first_and_bounded(store: CRMStore) -> None:
    for i, ended in enumerate([10.0, 30.0, 20.0, 30.0, 5.0]):
        store.record(rec(f"c{i}", ended_at=ended))
    store.record(rec("other", customer_id="someone else", ended_at=99.0))
    # Same end time: the later recorded comes first.
    assert [r.contact_id for r in store.history("cust")] == ["c3", "c1", "c2", "c0", "c4"]
    assert [r.contact_id for r in store.history("cust", limit=2)] == ["c3", "c1"]
    assert store.history("nobody") == []


def test_recording_the_same_contact_again_replaces_it(store: CRMStore) -> None:
    store.record(rec("c1", ended_at=10.0, disposition=None))
    store.record(rec("c2", ended_at=20.0))
    store.record(rec("c1", ended_at=10.0, disposition="sale"))
    history = store.history("cust")
    assert [(r.contact_id, r.disposition) for r in history] == [("c2", None), ("c1", "sale")]


def test_contacts_without_a_customer_are_kept_too(store: CRMStore) -> None:
    store.record(rec("anon", customer_id=None))
    assert [r.contact_id for r in store.all_records()] == ["anon"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("limit", [0, -1, 1001, 2.5, True, "3"])
def test_a_bad_limit_is_refused(store: CRMStore, limit: Any) -> None:
    with pytest.raises(InvalidValueError, match="history limit"):
        store.history("cust", limit)


def test_a_record_whose_attributes_cannot_be_stored_is_refused(store: CRMStore) -> None:
    with pytest.raises(InvalidValueError, match="'c1': attributes"):
        store.record(rec("c1", attributes={"x": {1, 2}}))
    assert store.history("cust") == []


def test_the_last_agent_is_the_latest_answered_one(store: CRMStore) -> None:
    assert store.last_agent("cust") is None
    store.record(rec("c1", ended_at=10.0, agent_id="ann", queue="sales"))
    store.record(rec("c2", ended_at=20.0, agent_id="bob"))
    store.record(rec("c3", ended_at=30.0, agent_id=None))  # abandoned: nobody served it
    assert store.last_agent("cust") == LastServed("bob", "c2", "support", 20.0)
    assert store.last_agent("cust", since=20.0) == LastServed("bob", "c2", "support", 20.0)
    assert store.last_agent("cust", since=20.5) is None
    assert store.last_agent("nobody") is None


#: Numbers the examples of a property test that share one store.
_EXAMPLES = itertools.count()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.sampled_from(["x", "y"]), st.integers(0, 5), st.booleans()), max_size=25),
    st.integers(1, 8),
)
def test_history_is_the_newest_records_of_the_customer(
    store: CRMStore, records: list[tuple[str, int, bool]], limit: int
) -> None:
    # A fresh customer per example: the store outlives the examples (an
    # object's id may come back once it is freed, so a counter names them).
    tag = f"k{next(_EXAMPLES)}"
    kept: dict[tuple[str, float], tuple[int, str | None]] = {}
    for order, (customer, ended, served) in enumerate(records):
        contact = f"{tag}-{order % 7}"
        agent = "ann" if served else None
        store.record(
            rec(contact, customer_id=f"{tag}{customer}", ended_at=float(ended), agent_id=agent)
        )
        kept[(contact, float(ended))] = (order, customer)
    for customer in ("x", "y"):
        mine = [(key, order) for key, (order, c) in kept.items() if c == customer]
        expected = [key for key, order in sorted(mine, key=lambda m: (m[0][1], m[1]), reverse=True)]
        got = [(r.contact_id, r.ended_at) for r in store.history(f"{tag}{customer}", limit)]
        assert got == expected[:limit]


# ----------------------------------------------------------- SQLite only


def test_sqlite_keeps_profiles_and_history_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    first = SQLiteCRM(path)
    first.put_profile("cust", {"tier": "gold"})
    first.record(rec("c1", disposition="sale"))
    first.close()
    again = SQLiteCRM(path)
    assert again.profile("cust") == {"tier": "gold"}
    assert [(r.contact_id, r.disposition) for r in again.history("cust")] == [("c1", "sale")]
    again.close()
    with pytest.raises(StorageError, match="closed"):
        again.profile("cust")


def test_sqlite_refuses_a_file_that_is_not_a_crm_store(tmp_path: Path) -> None:
    log = tmp_path / "centre.db"
    SQLiteStorage(log).close()
    with pytest.raises(StorageError, match="not a ccroute CRM store"):
        SQLiteCRM(log)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE crm_meta (key TEXT, value TEXT)")
        db.execute("INSERT INTO crm_meta VALUES ('magic', 'someone else')")
    with pytest.raises(StorageError, match="magic"):
        SQLiteCRM(other)
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StorageError):
        SQLiteCRM(tmp_path / "junk.db")


def test_sqlite_reads_a_damaged_row_as_bad_input_never_as_code(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    store = SQLiteCRM(path)
    store.record(rec("c1"))
    store.put_profile("cust", {"tier": "gold"})
    with sqlite3.connect(path) as db:
        db.execute("UPDATE history SET transfers = 'cos\\nsystem\\n(S''echo hi''\\ntR.'")
        db.execute("UPDATE profiles SET profile = '[1, 2]'")
    with pytest.raises(InputError, match="transfers is not JSON"):
        store.history("cust")
    with pytest.raises(InputError, match="not a JSON object"):
        store.profile("cust")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE history SET transfers = '[]', outcome = 'exploded'")
    with pytest.raises(InputError, match="unknown outcome"):
        store.history("cust")
    store.close()


def test_sqlite_has_the_documented_schema(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    store = SQLiteCRM(path)
    store.record(rec("c1", attributes={"ivr": {"intent": "billing"}}))
    store.close()
    with sqlite3.connect(path) as db:
        intent = db.execute(
            "SELECT json_extract(attributes, '$.ivr.intent') FROM history WHERE contact_id='c1'"
        ).fetchone()
        meta = dict(db.execute("SELECT key, value FROM crm_meta").fetchall())
    assert intent == ("billing",)
    assert meta == {"magic": "ccroute crm", "format": "1"}


def test_the_crm_package_loads_sqlite3_only_for_the_sqlite_store() -> None:
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from ccroute import EnrichmentRules, MemoryCRM\n"
        "from ccroute.crm import LastServed, predicted_intent\n"
        "before = sorted(m for m in ('anyio', 'pluggy', 'sqlite3') if m in sys.modules)\n"
        "from ccroute.crm import SQLiteCRM\n"
        "print(before, 'sqlite3' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[] True"

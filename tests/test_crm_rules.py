"""Enrichment rules: validated as data (errors name the rule and the field), and
each rule shown through the router: the enriched contact reaches the right
agent, or is served in the right order. The same rules through the service's
CRM step are in tests/test_crm_service.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccroute import (
    Agent,
    Contact,
    InputError,
    InvalidValueError,
    ManualClock,
    Presence,
    QueueConfig,
    Router,
)
from ccroute.crm import EnrichmentRules, LastServed, load_rules
from ccroute.testing import offers

pytestmark = pytest.mark.usefixtures("queue_factory")

DAY = 86_400.0

RULES = """
[[rules]]
name = "vip"
kind = "tier"
[rules.values]
gold = { priority_seconds = 120 }
platinum = { tier = 1 }

[[rules]]
kind = "language"
skills = { fr = "french", de = "german" }
level = 3

[[rules]]
kind = "open_case"
max_wait = 60

[[rules]]
kind = "last_agent"
within_days = 7
max_wait = 30
"""


def rules() -> EnrichmentRules:
    return EnrichmentRules.from_toml(RULES)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"kind": "tier", "values": {"gold": {"priority_seconds": -5}}},
            r"rule 'tier#0' \(tier\): field 'values.gold.priority_seconds' must be",
        ),
        (
            {"name": "vip", "kind": "tier", "values": {"gold": {"tier": "high"}}},
            r"rule 'vip' \(tier\): field 'values.gold.tier'",
        ),
        ({"name": "vip", "kind": "tier", "values": {}}, r"'vip' \(tier\): field 'values'"),
        (
            {"name": "vip", "kind": "tier", "values": {"gold": {"boost": 1}}},
            r"field 'values.gold.boost'",
        ),
        (
            {"name": "lang", "kind": "language", "skills": {"fr": "french"}, "level": 11},
            r"'lang' \(language\): field 'level'",
        ),
        ({"name": "lang", "kind": "language", "skills": {"fr": 3}}, r"field 'skills.fr'"),
        (
            {"name": "sticky", "kind": "last_agent", "within_days": 0, "max_wait": 30},
            r"'sticky' \(last_agent\): field 'within_days'",
        ),
        (
            {"name": "sticky", "kind": "last_agent", "within_days": 7},
            r"'sticky' \(last_agent\): field 'max_wait'",
        ),
        (
            {
                "name": "sticky",
                "kind": "last_agent",
                "within_days": 7,
                "max_wait": 30,
                "same_queue": "yes",
            },
            r"field 'same_queue'",
        ),
        (
            {"name": "case", "kind": "open_case", "max_wait": 30, "owner_key": ""},
            r"'case' \(open_case\): field 'owner_key'",
        ),
        (
            {"name": "case", "kind": "open_case", "max_wait": 30, "color": "red"},
            r"'case' \(open_case\): unknown field 'color'",
        ),
        ({"name": "what", "kind": "horoscope"}, r"rule 'what': field 'kind' must be one of"),
        ({"name": 5, "kind": "tier"}, r"enrichment rule 0: field 'name'"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_rule_and_the_field(
    rule: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidValueError, match=message):
        EnrichmentRules.from_data({"rules": [rule]})


def test_rule_names_are_unique_and_the_shape_is_checked() -> None:
    twice = {"name": "x", "kind": "last_agent", "within_days": 1, "max_wait": 1}
    with pytest.raises(InvalidValueError, match="'x': the name is used by an earlier rule"):
        EnrichmentRules.from_data([twice, twice])
    with pytest.raises(InvalidValueError, match="unknown key 'rule'"):
        EnrichmentRules.from_data({"rule": []})
    with pytest.raises(InvalidValueError, match="must be a list"):
        EnrichmentRules.from_data({"rules": "tier"})


def test_toml_files_are_read_and_their_errors_name_the_file(tmp_path: Path) -> None:
    good = tmp_path / "rules.toml"
    good.write_text(RULES)
    loaded = load_rules(good)
    assert [r.name for r in loaded.rules] == ["vip", "language#1", "open_case#2", "last_agent#3"]
    assert loaded == rules()
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rules]]\nkind = \n")
    with pytest.raises(InputError, match=r"bad\.toml.*not valid TOML"):
        load_rules(bad)
    with pytest.raises(InputError, match="cannot read"):
        load_rules(tmp_path / "missing.toml")


# ---------------------------------------------------------- through the router


def centre() -> tuple[Router, ManualClock]:
    clock = ManualClock(10 * DAY)
    router = Router(clock)
    router.add_queue(QueueConfig("support", offer_timeout=None))
    return router, clock


def test_a_vip_tier_is_served_before_an_earlier_regular_contact() -> None:
    router, clock = centre()
    router.add_agent(Agent("ann", queues={"support"}))
    router.submit(Contact("regular", "voice", "support", customer_id="r"))
    clock.advance(60)
    vip = rules().apply(Contact("vip", "voice", "support", customer_id="v"), {"tier": "Gold"})
    assert vip.priority_seconds == 120
    router.submit(vip)
    events = router.set_presence("ann", Presence.AVAILABLE)
    assert offers(events) == [("vip", "ann")]


def test_a_platinum_tier_outranks_any_head_start() -> None:
    router, clock = centre()
    router.add_agent(Agent("ann", queues={"support"}))
    router.submit(Contact("old", "voice", "support", priority_seconds=10_000))
    clock.advance(1)
    top = rules().apply(Contact("top", "voice", "support"), {"tier": "platinum"})
    router.submit(top)
    assert offers(router.set_presence("ann", Presence.AVAILABLE)) == [("top", "ann")]


def test_a_language_routes_to_an_agent_with_that_skill() -> None:
    router, _ = centre()
    router.add_agent(Agent("ann", skills={"english": 5}, queues={"support"}), Presence.AVAILABLE)
    router.add_agent(Agent("ben", skills={"french": 2}, queues={"support"}), Presence.AVAILABLE)
    router.add_agent(Agent("cat", skills={"french": 4}, queues={"support"}), Presence.AVAILABLE)
    contact = rules().apply(Contact("c1", "chat", "support"), {"language": "FR"})
    assert dict(contact.requirements) == {"french": 3}
    assert offers(router.submit(contact)) == [("c1", "cat")]


def test_the_last_agent_within_the_window_is_waited_for() -> None:
    router, clock = centre()
    router.add_agent(Agent("ann", queues={"support"}), Presence.AVAILABLE)
    router.add_agent(Agent("bob", queues={"support"}), Presence.NOT_READY)
    last = LastServed("bob", "old", "support", clock.now() - 6 * DAY)
    contact = rules().apply(Contact("c1", "voice", "support"), {}, last, clock.now())
    assert (contact.preferred_agent, contact.preferred_wait) == ("bob", 30)
    # Ann is free, but the contact waits for Bob ...
    assert offers(router.submit(contact)) == []
    clock.advance(10)
    assert offers(router.set_presence("bob", Presence.AVAILABLE)) == [("c1", "bob")]


def test_the_last_agent_wait_is_bounded_then_anyone_may_take_it() -> None:
    router, clock = centre()
    router.add_agent(Agent("ann", queues={"support"}), Presence.AVAILABLE)
    router.add_agent(Agent("bob", queues={"support"}), Presence.NOT_READY)
    last = LastServed("bob", "old", "support", clock.now() - DAY)
    router.submit(rules().apply(Contact("c1", "voice", "support"), {}, last, clock.now()))
    clock.advance(30)
    assert offers(router.tick().events) == [("c1", "ann")]


def test_a_last_agent_outside_the_window_is_not_preferred() -> None:
    router, clock = centre()
    router.add_agent(Agent("ann", queues={"support"}), Presence.AVAILABLE)
    router.add_agent(Agent("bob", queues={"support"}), Presence.NOT_READY)
    last = LastServed("bob", "old", "support", clock.now() - 8 * DAY)
    contact = rules().apply(Contact("c1", "voice", "support"), {}, last, clock.now())
    assert contact.preferred_agent is None
    assert offers(router.submit(contact)) == [("c1", "ann")]


def test_an_open_case_goes_to_its_owner_before_the_last_agent() -> None:
    router, clock = centre()
    for agent in ("ann", "bob", "cat"):
        router.add_agent(Agent(agent, queues={"support"}), Presence.AVAILABLE)
    last = LastServed("bob", "old", "support", clock.now() - DAY)
    profile = {"open_case": {"id": "K-1", "owner": "cat", "status": "open"}}
    contact = rules().apply(Contact("c1", "voice", "support"), profile, last, clock.now())
    assert (contact.preferred_agent, contact.preferred_wait) == ("cat", 60)
    assert offers(router.submit(contact)) == [("c1", "cat")]


def test_a_closed_case_and_an_excluded_owner_are_ignored() -> None:
    r = rules()
    closed = {"open_case": [{"owner": "cat", "status": "Resolved"}, {"owner": "dan"}]}
    assert r.apply(Contact("c1", "voice", "support"), closed).preferred_agent == "dan"
    excluded = Contact("c2", "voice", "support", excluded_agents={"cat"})
    assert r.apply(excluded, {"open_case": {"owner": "cat"}}).preferred_agent is None


def test_rules_never_lower_what_the_contact_has() -> None:
    contact = Contact(
        "c1",
        "voice",
        "support",
        requirements={"french": 7},
        priority_seconds=500,
        tier=2,
        preferred_agent="zoe",
        preferred_wait=5,
    )
    profile = {"tier": "gold", "language": "fr", "open_case": {"owner": "cat"}}
    assert rules().apply(contact, profile) is contact


@settings(max_examples=60, deadline=None)
@given(
    tier=st.sampled_from([None, "gold", "GOLD", "platinum", "bronze", 3, True]),
    language=st.sampled_from([None, "fr", "de", "xx", 5]),
    priority=st.floats(-1000, 1000),
    level=st.integers(1, 10),
    owner=st.sampled_from([None, "cat", "zoe"]),
    served_days_ago=st.one_of(st.none(), st.floats(0, 30)),
)
def test_rules_only_raise_and_applying_twice_changes_nothing_more(
    tier: object,
    language: object,
    priority: float,
    level: int,
    owner: str | None,
    served_days_ago: float | None,
) -> None:
    now = 100 * DAY
    profile = {"tier": tier, "language": language, "open_case": {"owner": owner}}
    last = (
        None
        if served_days_ago is None
        else LastServed("bob", "old", "support", now - served_days_ago * DAY)
    )
    contact = Contact(
        "c1", "voice", "support", requirements={"french": level}, priority_seconds=priority
    )
    once = rules().apply(contact, profile, last, now)
    assert once.priority_seconds >= contact.priority_seconds
    assert once.tier >= contact.tier
    assert all(dict(once.requirements).get(s, 0) >= n for s, n in contact.requirements)
    assert rules().apply(once, profile, last, now) is once
    if owner is not None:
        assert once.preferred_agent == owner
    elif served_days_ago is not None and served_days_ago <= 7:
        assert once.preferred_agent == "bob"
    else:
        assert once.preferred_agent is None

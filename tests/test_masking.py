"""Masking of sensitive data (ccroute.masking): the rules value, its patterns and
field names, its invariants (hypothesis), and the router masking contacts'
attributes where they enter, on both queue twins.

The service's side (the SQLite file, log output, hooks' arguments) is in
tests/test_masking_service.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccroute import (
    Agent,
    Contact,
    ContactUpdated,
    InvalidValueError,
    Masking,
    Presence,
    QueueConfig,
    Router,
)
from ccroute._values import is_json
from ccroute.masking import DEFAULT_SENSITIVE_FIELDS, MaskingFilter, luhn_valid

CARD = "4111111111111111"
CARD_SPACED = "4111 1111 1111 1111"
AMEX = "378282246310005"  # 15 digits
SSN = "219-09-9999"

# ------------------------------------------------------------------ oracles
#
# Written apart from the module, from the rules as docs/masking.md states them.


def oracle_luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value // 10 + value % 10
    return total % 10 == 0


def oracle_cards(text: str) -> list[str]:
    """Every card number in ``text``: 13-19 digits in whole groups of a run of
    groups separated by single spaces or dashes, Luhn-valid, none of the
    groups glued to a letter or ``_``."""
    found = []
    for run in re.finditer(r"[0-9]+(?:[ -][0-9]+)*", text):
        groups = re.findall(r"[0-9]+", run.group())
        # a group glued to a letter or "_" is part of a token, not of a card
        if re.match(r"[^\W0-9]", text[run.start() - 1 : run.start()]):
            groups = groups[1:]
        if re.match(r"[^\W0-9]", text[run.end() : run.end() + 1]):
            groups = groups[:-1]
        for first in range(len(groups)):
            for last in range(first, len(groups)):
                digits = "".join(groups[first : last + 1])
                if 13 <= len(digits) <= 19 and oracle_luhn(digits):
                    found.append(digits)
    return found


def oracle_ssns(text: str) -> list[str]:
    found = []
    for m in re.finditer(r"(?<![0-9])([0-9]{3})([- ])([0-9]{2})\2([0-9]{4})(?![0-9])", text):
        area, _, group, serial = m.groups()
        if area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000":
            found.append(m.group())
    return found


def texts_of(value: Any) -> Iterator[str]:
    """Every string in a JSON value (keys too), and every integer's digits."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool) or value is None or isinstance(value, float):
        return
    elif isinstance(value, int):
        yield str(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from texts_of(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from texts_of(item)
    else:
        yield from texts_of(dict(value))


# ---------------------------------------------------------------- strategies


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    """A Luhn-valid card number, as written: bare, in groups of four, or dashed."""
    length = draw(st.integers(13, 19))
    body = draw(st.text("0123456789", min_size=length - 1, max_size=length - 1))
    check = next(d for d in "0123456789" if oracle_luhn(body + d))
    digits = body + check
    layout = draw(st.sampled_from(["", " ", "-"]))
    if not layout:
        return digits
    return layout.join(digits[i : i + 4] for i in range(0, len(digits), 4))


@st.composite
def ssns(draw: st.DrawFn) -> str:
    area = draw(st.integers(1, 899).filter(lambda a: a != 666))
    group = draw(st.integers(1, 99))
    serial = draw(st.integers(1, 9999))
    sep = draw(st.sampled_from("- "))
    return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"


noise = st.text(alphabet="0123456789 -ab*.", max_size=24)
texts = st.lists(st.one_of(noise, card_numbers(), ssns()), max_size=5).map("".join)
keys = st.one_of(
    st.sampled_from(["password", "PIN", "Social-Security-Number", "name", "card", "notes"]),
    texts,
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)
rules = st.builds(
    Masking,
    fields=st.sets(st.sampled_from(["password", "pin", "ssn", "card", "billing.iban"])),
    cards=st.booleans(),
    ssns=st.booleans(),
    keep_last=st.integers(0, 4),
)


# --------------------------------------------------------------- invariants


@given(json_values)
def test_masking_is_idempotent(value: Any) -> None:
    masking = Masking()
    once = masking.value(value)
    assert masking.value(once) is once


@given(rules, json_values)
def test_masking_is_idempotent_under_any_rules(masking: Masking, value: Any) -> None:
    once = masking.value(value)
    assert masking.value(once) is once


def test_digits_inside_a_token_are_not_a_card() -> None:
    masking = Masking()
    # a contact id made of hex: "75436574604175" passes Luhn, glued to letters
    thread = "email-4e75436574604175a2a357075841d730"
    assert masking.text(thread) == thread
    assert masking.text("order_4111111111111111") == "order_4111111111111111"
    assert masking.text("ref x4111111111111111") == "ref x4111111111111111"
    # the same digits standing alone, or next to punctuation, are a card
    assert masking.text("75436574604175") == "**********4175"
    assert masking.text("card:4111111111111111.") == "card:************1111."
    # a token next to a card hides nothing
    assert masking.text("a0 4111111111111111") == "a0 ************1111"
    assert masking.text("4111 1111 1111 1111 12x") == "**** **** **** 1111 12x"
    assert masking.value({"thread": thread}) == {"thread": thread}


@given(json_values)
def test_no_card_number_or_ssn_is_left_at_any_depth(value: Any) -> None:
    masked = Masking().value(value)
    for text in texts_of(masked):
        assert oracle_cards(text) == [], text
        assert oracle_ssns(text) == [], text


@given(st.lists(st.one_of(card_numbers(), ssns()), min_size=1, max_size=3), noise)
def test_a_planted_card_or_ssn_never_survives_and_the_text_keeps_its_length(
    secrets: list[str], filler: str
) -> None:
    text = f"{filler} {' / '.join(secrets)} ."
    masked = Masking().text(text)
    assert len(masked) == len(text)  # separators and everything else stay in place
    # Where each secret was, it is hidden (the filler may hold the same digits
    # as a longer run, which is no card: look at the secret's own place).
    start = len(filler) + 1
    for secret in secrets:
        assert masked[start : start + len(secret)] != secret
        start += len(secret) + len(" / ")
    assert oracle_cards(masked) == [] and oracle_ssns(masked) == []


@given(json_values)
def test_json_values_stay_json_values(value: Any) -> None:
    assert is_json(Masking().value(value))


@given(json_values)
def test_data_without_a_match_comes_back_as_the_same_object(value: Any) -> None:
    sensitive = {name.replace("_", "") for name in DEFAULT_SENSITIVE_FIELDS}

    def clean(v: Any) -> bool:
        if isinstance(v, dict):
            return all(
                re.sub(r"[\s_-]", "", k.casefold()) not in sensitive and clean(k) and clean(item)
                for k, item in v.items()
            )
        if isinstance(v, list):
            return all(clean(item) for item in v)
        return all(not oracle_cards(t) and not oracle_ssns(t) for t in texts_of(v))

    if clean(value):
        assert Masking().value(value) is value


@given(st.dictionaries(st.sampled_from(["password", "Pin", "SSN", "cvv"]), json_values))
def test_a_sensitive_fields_strings_and_numbers_are_masked_whole(value: dict[str, Any]) -> None:
    masked = Masking().value(value)
    for key in value:
        for leaf in _leaves(masked[key]):
            if isinstance(leaf, str):
                assert re.fullmatch(r"[* -]*[0-9]{0,4}", leaf), leaf
            else:
                assert leaf is None or isinstance(leaf, bool)


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


@settings(max_examples=300)
@given(st.text("0123456789", min_size=2, max_size=25))
def test_luhn_agrees_with_the_textbook_check(digits: str) -> None:
    assert luhn_valid(digits) == oracle_luhn(digits)


@pytest.mark.parametrize("text", ["", "0", "5", "4111 1111 1111 1111", "٣٣", "12a4"])
def test_luhn_needs_a_check_digit_and_a_payload_in_ascii_digits(text: str) -> None:
    # One Luhn check serves masking and IVR validation: a lone digit is not a
    # number with a check digit, and anything but ASCII digits is no number.
    assert not luhn_valid(text)


# ------------------------------------------------------------------ examples


def test_card_numbers_keep_their_last_four_and_their_layout() -> None:
    masking = Masking()
    assert masking.text(CARD) == "************1111"
    assert masking.text(CARD_SPACED) == "**** **** **** 1111"
    assert masking.text("4111-1111-1111-1111") == "****-****-****-1111"
    assert masking.text(f"amex {AMEX}.") == "amex ***********0005."
    # expiry right after the number: the card is still found
    assert masking.text(f"{CARD_SPACED} 12 26") == "**** **** **** 1111 12 26"
    assert masking.value(int(CARD)) == "************1111"


def test_numbers_that_are_not_cards_are_left_alone() -> None:
    masking = Masking()
    # 16 digits failing Luhn (an order number), 12 digits, a 20-digit run
    for text in (
        "order 4111111111111112",
        "123456789012",
        "41111111111111111111",
        "+44 20 7946 0958",
    ):
        assert masking.text(text) is text
    assert masking.value(4111111111111112) == 4111111111111112


def test_ssns_keep_their_last_four() -> None:
    masking = Masking()
    assert masking.text(f"ssn {SSN}") == "ssn ***-**-9999"
    assert masking.text("219 09 9999") == "*** ** 9999"
    # not an SSN: area 000, 666 or 9xx, group 00, serial 0000, digits around, mixed separators
    for text in ("000-12-3456", "666-12-3456", "900-12-3456", "219-00-9999", "219-09-0000"):
        assert masking.text(text) is text
    for text in ("1219-09-9999", "219-09-99990", "219-09 9999"):
        assert masking.text(text) is text


def test_sensitive_names_match_without_case_or_separators_at_any_depth() -> None:
    masking = Masking()
    masked = masking.value(
        {"PassWord": "hunter2", "a": [{"security-code": 123}], "Social Security Number": SSN}
    )
    assert masked == {
        "PassWord": "*******",
        "a": [{"security-code": "***"}],
        "Social Security Number": "***********",
    }
    assert {"pin", "ssn", "cvv", "password"} <= DEFAULT_SENSITIVE_FIELDS


def test_dotted_paths_match_from_the_top_only() -> None:
    masking = Masking(fields={"billing.iban"})
    value = {"billing": [{"iban": "DE89370400440532013000"}], "other": {"billing": {"iban": "x"}}}
    masked = masking.value(value)
    assert masked["billing"] == [{"iban": "**********************"}]
    assert masked["other"] is value["other"]


def test_custom_patterns_and_configuration() -> None:
    masking = Masking.from_settings(
        {"fields": ["account_pin"], "patterns": [r"GB[0-9]{2}[A-Z]{4}[0-9]{14}"], "keep_last": 2}
    )
    masked = masking.value(
        {"account_pin": "2468", "note": "iban GB29NWBK60161331926819", "card": CARD, "pin": "1"}
    )
    assert masked == {
        "account_pin": "****",
        "note": "iban **********************",
        "card": "**************11",
        "pin": "*",
    }
    assert masking.with_fields("x").fields == masking.fields | {"x"}


def test_an_already_masked_value_is_left_alone() -> None:
    masking = Masking()
    # as the IVR masks collected answers, under a sensitive name or not
    for value in ("************1111", "**** **** **** 1111", "***-**-9999", "****"):
        assert masking.value({"pin": value, "answer": value}) == {"pin": value, "answer": value}


def test_masking_off_keeps_everything() -> None:
    masking = Masking(enabled=False)
    value = {"password": "hunter2", "card": CARD}
    assert masking.value(value) is value
    assert masking.text(CARD) is CARD


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"enabled": 1}, "masking enabled must be True or False"),
        ({"fields": "password"}, "masking fields must be a collection"),
        ({"fields": ["a..b"]}, "masking field name 'a..b'"),
        ({"fields": [""]}, "masking field name must be a non-empty string"),
        ({"patterns": ["("]}, "masking pattern '\\(' is not a regular expression"),
        ({"keep_last": 6}, "masking keep_last must be an integer in 0..4"),
    ],
)
def test_bad_rules_are_refused_by_name(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        Masking(**kwargs)


def test_bad_settings_are_refused_by_name() -> None:
    with pytest.raises(InvalidValueError, match="unknown key 'field'"):
        Masking.from_settings({"field": ["x"]})
    with pytest.raises(InvalidValueError, match="masking must be a Masking"):
        Router(masking={"enabled": False})  # type: ignore[arg-type]


def test_the_log_filter_masks_messages_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("ccroute.test-masking")
    filter_ = MaskingFilter(Masking())
    logger.addFilter(filter_)
    try:
        with caplog.at_level(logging.INFO, logger="ccroute.test-masking"):
            logger.info("card %s ssn %s", CARD, SSN)
            try:
                raise ValueError(f"bad card {CARD_SPACED}")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.removeFilter(filter_)
    assert "************1111" in caplog.text and "***-**-9999" in caplog.text
    assert "**** **** **** 1111" in caplog.text  # in the traceback
    for raw in (CARD, CARD_SPACED, SSN):
        assert raw not in caplog.text


# ------------------------------------------------------------- the router

pytestmark_router = pytest.mark.usefixtures("queue_factory")

ATTRIBUTES = {
    "language": "en",
    "card": CARD_SPACED,
    "customer": {"ssn_on_file": SSN, "cards": [int(CARD), AMEX], "password": "hunter2"},
}
RAW = (CARD, CARD_SPACED, SSN, AMEX, "hunter2", "411111111111", "219-09")


def assert_no_raw(text: str) -> None:
    for raw in RAW:
        assert raw not in text, raw


def centre(**kwargs: Any) -> Router:
    router = Router(**kwargs)
    router.add_queue(QueueConfig("support", wrap_up=0))
    router.add_agent(Agent("alice", queues=("support",)), Presence.AVAILABLE)
    return router


@pytestmark_router
def test_the_router_masks_attributes_on_submit() -> None:
    router = centre()
    seen: list[Any] = []
    router.observe(seen.extend)
    events = router.submit(Contact("c1", "voice", "support", attributes=ATTRIBUTES))
    events += router.submit(Contact("c2", "voice", "support", attributes=ATTRIBUTES))
    view = router.contact("c1")
    assert view.attributes == {
        "language": "en",
        "card": "**** **** **** 1111",
        "customer": {
            "ssn_on_file": "***-**-9999",  # no sensitive name: the pattern applies
            "cards": ["************1111", "***********0005"],
            "password": "*******",
        },
    }
    assert_no_raw(repr(events) + repr(seen))
    assert_no_raw(repr(router.waiting()) + repr(router.contact("c2")))
    assert_no_raw(repr(router.explain("c2")) + repr(router.explain_agent("alice")))
    assert_no_raw(router.snapshot().decode())


@pytestmark_router
def test_the_router_masks_attributes_on_update_and_restore() -> None:
    router = centre()
    router.submit(Contact("c1", "voice", "support"))
    router.submit(Contact("c2", "voice", "support"))
    events = router.update_contact("c2", attributes=ATTRIBUTES)
    assert events == [ContactUpdated(router.now, "c2", ("attributes",))]
    assert router.contact("c2").attributes["card"] == "**** **** **** 1111"
    # masked already: updating with the masked value changes nothing
    assert router.update_contact("c2", attributes=router.contact("c2").attributes) == []
    assert_no_raw(router.snapshot().decode())
    # a snapshot taken without masking holds raw values; restoring masks them
    plain = centre(masking=Masking(enabled=False))
    plain.submit(Contact("c1", "voice", "support", attributes=ATTRIBUTES))
    assert plain.contact("c1").attributes == ATTRIBUTES
    data = plain.snapshot()
    assert CARD_SPACED in data.decode()
    restored = Router.restore(data)
    assert restored.contact("c1").attributes == router.contact("c2").attributes
    kept = Router.restore(data, masking=Masking(enabled=False))
    assert kept.contact("c1").attributes == ATTRIBUTES


@pytestmark_router
def test_masking_changes_no_routing_decision() -> None:
    def run(masking: Masking) -> list[Any]:
        router = Router(masking=masking, seed=7)
        router.add_queue(QueueConfig("q", wrap_up=1))
        for name in ("a", "b"):
            router.add_agent(Agent(name, queues=("q",)), Presence.AVAILABLE)
        events: list[Any] = []
        for i in range(6):
            attributes = {"card": CARD, "n": i} if i % 2 else {"pin": str(i)}
            events += router.submit(
                Contact(f"c{i}", "voice", "q", priority_seconds=i, attributes=attributes)
            )
        events += router.update_contact("c5", attributes={"ssn": SSN})
        for contact_id in router.contact_ids:
            view = router.contact(contact_id)
            if view.agent_id is not None:
                events += router.accept(contact_id, view.agent_id)
        return events

    assert run(Masking()) == run(Masking(enabled=False))


@pytestmark_router
def test_masking_off_keeps_raw_attributes() -> None:
    router = centre(masking=Masking(enabled=False))
    router.submit(Contact("c1", "voice", "support", attributes=ATTRIBUTES))
    assert router.contact("c1").attributes == ATTRIBUTES


def test_a_typical_contact_costs_little_and_an_empty_one_nothing() -> None:
    masking = Masking()
    contact = Contact(
        "c", "voice", "q", attributes={"language": "en", "vip": True, "topic": "billing"}
    )
    assert masking.contact(contact) is contact
    bare = Contact("c", "voice", "q")
    assert masking.contact(bare) is bare
    assert masking.contact(attrs.evolve(contact, attributes={"card": CARD})).attributes == {
        "card": "************1111"
    }


def test_commands_and_notes_are_masked_field_by_field() -> None:
    from ccroute import CustomerEnriched
    from ccroute.commands import Accept, Submit, UpdateContact
    from ccroute.storage import LogRecord

    masking = Masking()
    accept = Accept("c1", "alice")
    assert masking.fields_of(accept) is accept
    submit = Submit(Contact("c1", "voice", "q", attributes={"card": CARD}))
    assert masking.fields_of(submit).contact.attributes == {"card": "************1111"}
    update = UpdateContact("c1", attributes={"x": [SSN]})
    assert masking.fields_of(update).attributes == {"x": ["***-**-9999"]}
    note = CustomerEnriched(1.0, "c1", "vip", True, False, {"password": "hunter2"})
    masked_note = masking.fields_of(note)
    assert masked_note.profile == {"password": "*******"}
    assert (masked_note.at, masked_note.contact_id) == (1.0, "c1")
    record = LogRecord(3, 1.0, submit, (note,))
    masked = masking.log_record(record)
    assert (masked.seq, masked.command, masked.events) == (
        3,
        masking.fields_of(submit),
        (masked_note,),
    )
    assert masked.command.contact.attributes == {"card": "************1111"}
    assert masking.log_record(masked) is masked
    assert Masking(enabled=False).fields_of(submit) is submit


def test_the_docs_page_runs_and_names_the_defaults() -> None:
    import doctest
    from pathlib import Path

    page = Path(__file__).resolve().parent.parent / "docs" / "masking.md"
    result = doctest.testfile(str(page), module_relative=False)
    assert result.attempted >= 1 and result.failed == 0
    text = page.read_text()
    for name in DEFAULT_SENSITIVE_FIELDS:
        assert f"`{name}`" in text, name


@pytest.mark.usefixtures("queue_factory")
def test_attributes_that_are_not_json_are_refused_not_masked() -> None:
    router = centre()
    router.submit(Contact("c1", "voice", "support"))
    cycle: list[Any] = [CARD]
    cycle.append(cycle)
    deep: Any = CARD
    for _ in range(40):
        deep = [deep]
    for bad in ({"x": cycle}, {"x": deep}, {"x": {CARD, SSN}}):
        with pytest.raises(InvalidValueError, match="contact 'c1'"):
            router.update_contact("c1", attributes=bad)
        Masking().value(bad)  # ends (no RecursionError) and leaves the refusal to the model
    assert router.contact("c1").attributes == {}


def test_a_record_holding_several_contacts_has_each_masked() -> None:
    @attrs.frozen
    class Batch:
        contacts: tuple[Contact, ...]
        note: str = "x"

    masking = Masking()
    plain = Batch((Contact("a", "voice", "q"), Contact("b", "voice", "q")))
    assert masking.fields_of(plain) is plain
    raw = Batch((Contact("a", "voice", "q"), Contact("b", "voice", "q", attributes={"c": CARD})))
    masked = masking.fields_of(raw)
    assert masked.contacts[0] is raw.contacts[0]
    assert masked.contacts[1].attributes == {"c": "************1111"}


def test_a_card_after_other_digit_groups_shows_no_more_than_its_last_four() -> None:
    # "14 4111 1111 1111" passes Luhn too: which is the card cannot be told,
    # so both are masked as one span (docs/masking.md, "Card numbers").
    assert Masking().text("14 4111 1111 1111 1111") == "** **** **** **** 1111"
    assert Masking().text("14, 4111 1111 1111 1111") == "14, **** **** **** 1111"
    two = Masking().text("4111 1111 1111 1111 5500 0055 5555 5559")
    assert sum(c.isdigit() for c in two) <= 4

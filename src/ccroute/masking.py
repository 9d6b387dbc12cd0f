"""Masking of sensitive data: card numbers, social-security numbers, named fields.

:class:`Masking` is a frozen value holding the rules; its methods return
masked copies of contacts, JSON values, strings, commands and events. The
router masks a contact's attributes where they enter (``submit``,
``update_contact``, ``restore``) and the service masks every command and
note before it is logged, the contact before its IVR and CRM hooks see it,
the CRM profile before enrichment, and its own log output (see
docs/masking.md). Nothing downstream of those points ever holds the raw
value: not the events, the views, the offers, the history, the SQLite file
nor the snapshots.

What is masked:

- the value of a *sensitive field*: a dict key whose name is in
  :attr:`Masking.fields`, compared without case, ``_``, ``-`` or spaces
  (``"card_number"`` matches ``CardNumber`` and ``card-number``), at any
  depth; a dotted name (``"billing.pin"``) matches that path from the top
  of the value only (lists on the way count for nothing). Every character
  of a string becomes ``*`` (its length stays), a number becomes a string of
  ``*`` as long as its digits, and every string and number inside a list
  or object under the name is masked the same way;
- a *payment card number* anywhere in a string (or an integer): 13 to 19
  digits, in groups separated by single spaces or dashes, that pass the
  Luhn check. Digits glued to more digits are not a card number (a longer
  run is not one), and a group glued to a letter or ``_`` belongs to a
  token such as a hex id, not a card; in a run of groups the longest Luhn-valid card from each
  group on is masked. All digits but the last four become ``*``, the
  separators stay: ``"4111 1111 1111 1111"`` → ``"**** **** **** 1111"``;
- a *US social-security number*: ``AAA-GG-SSSS`` or ``AAA GG SSSS`` with no
  digit right before or after, area not 000, 666 or 9xx, group not 00,
  serial not 0000: ``"***-**-6789"``;
- every match of a custom regular expression in :attr:`Masking.patterns`:
  each character of the match becomes ``*``.

Masking is idempotent (masking a masked value changes nothing): strings are
masked until a pass changes nothing, and a sensitive field's value that
already looks masked (only ``*``, spaces and dashes, with at most four
digits at the end) is left alone, whoever masked it.

Cost: O(size of the value). A value without a sensitive name, a run of nine
digits or a custom pattern comes back as the same object, without a copy;
a contact without attributes costs one test.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, TypeVar

import attrs

from ._values import MAX_JSON_DEPTH, fail, show
from .errors import InvalidValueError
from .model import Contact, _ReadOnlyMapping

__all__ = [
    "DEFAULT_SENSITIVE_FIELDS",
    "MASK",
    "Masking",
    "MaskingFilter",
    "luhn_valid",
]

#: The character that replaces what is hidden.
MASK: Final = "*"

#: Field names masked by default, whatever their case and separators.
DEFAULT_SENSITIVE_FIELDS: Final = frozenset(
    {
        "password",
        "passcode",
        "pin",
        "cvv",
        "cvc",
        "cvv2",
        "security_code",
        "secret",
        "otp",
        "ssn",
        "social_security_number",
        "tax_id",
    }
)

#: The most digits of a card number or SSN that may stay visible (PCI DSS
#: allows the last four).
MAX_KEEP_LAST: Final = 4

_T = TypeVar("_T")

# A run of digit groups, each pair of groups separated by one space or dash.
_RUN: Final = re.compile(r"[0-9]+(?:[ -][0-9]+)*")
# A character that glues the digit group next to it into a token (a hex id,
# "order_4111…"), as a word boundary reads it: a letter, "_" or another
# word character that is not an ASCII digit.
_GLUE: Final = re.compile(r"[^\W0-9]")
_GROUP: Final = re.compile(r"[0-9]+")
# Nine digits, perhaps separated: a string without one holds no card number
# (13 digits at least) and no SSN (9), so it is not looked at further.
_CANDIDATE: Final = re.compile(r"[0-9](?:[ -]?[0-9]){8}")
_SSN: Final = re.compile(r"(?<![0-9])([0-9]{3})([- ])([0-9]{2})\2([0-9]{4})(?![0-9])")
# What a masked value looks like: at least one mask, spaces or dashes, and
# at most four digits at the end.
_MASKED: Final = re.compile(r"[* -]*\*[* -]*[0-9]{0,4}")
_SEPARATORS: Final = re.compile(r"[\s_-]+")
_MIN_CARD: Final = 13
# The shortest string that can hold a card number or an SSN (nine digits).
_MIN_MATCH: Final = 9
_MAX_CARD: Final = 19
# Integers of 13 digits or more may be card numbers.
_CARD_INT: Final = 10 ** (_MIN_CARD - 1)

# Normalised field names, cached (bounded: keys come from outside).
_NORMALISED: dict[str, str] = {}
_NORMALISED_MAX: Final = 4096


def luhn_valid(digits: str) -> bool:
    """Whether ``digits`` (ASCII digits only, at least two) passes the Luhn
    (mod 10) check: the check-digit scheme of payment card numbers (ISO/IEC
    7812) and many account numbers. From the right, every second digit is
    doubled (minus 9 when above 9) and the sum must end in 0. The one Luhn
    check of ccroute: masking finds cards with it and IVR flows validate
    answers with it. Cost: O(len(digits)).
    """
    if len(digits) < 2 or not (digits.isascii() and digits.isdigit()):
        return False
    total = 0
    double = False
    for char in reversed(digits):
        value = ord(char) - 48
        if double:
            value *= 2
            if value > 9:
                value -= 9
        total += value
        double = not double
    return total % 10 == 0


def _normalise(name: str) -> str:
    """A field name as compared: case-folded, without spaces, ``_`` or ``-``."""
    found = _NORMALISED.get(name)
    if found is None:
        found = _SEPARATORS.sub("", name.casefold())
        if len(_NORMALISED) < _NORMALISED_MAX:
            _NORMALISED[name] = found
    return found


def _hide_digits(text: str, keep: int) -> str:
    """``text`` with every digit but the last ``keep`` replaced by the mask."""
    chars = list(text)
    kept = 0
    for index in range(len(chars) - 1, -1, -1):
        if "0" <= chars[index] <= "9":
            if kept < keep:
                kept += 1
            else:
                chars[index] = MASK
    return "".join(chars)


def _card_spans(run: str) -> list[tuple[int, int]]:
    """What to mask as card numbers in a run of digit groups, as (start, end)
    in ``run``: every sequence of whole groups with 13-19 digits that passes
    Luhn, from every group on, and those that share a group merged into one
    span. Which of two overlapping sequences is the card cannot be told
    (``14 4111 1111 1111 1111``: the first four groups pass Luhn, and so do
    the last four), so their union is masked, keeping only its last digits:
    never more of a card than its last four.

    Cost: O(19) per group. The Luhn sum is kept as digits are added on the
    right: each addition flips which digits are doubled, so both sums are
    kept (``plain``: the last digit not doubled, as Luhn reads it;
    ``flipped``: every digit the other way).
    """
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(run)]
    spans: list[tuple[int, int]] = []  # as group indices, first and last
    for first in range(len(groups)):
        count = plain = flipped = 0
        for last in range(first, len(groups)):
            start, end = groups[last]
            count += end - start
            if count > _MAX_CARD:
                break
            for index in range(start, end):
                digit = ord(run[index]) - 48
                plain, flipped = digit + flipped, _DOUBLED[digit] + plain
            if count >= _MIN_CARD and plain % 10 == 0:
                if spans and first <= spans[-1][1]:
                    spans[-1] = (spans[-1][0], max(spans[-1][1], last))
                else:
                    spans.append((first, last))
    return [(groups[first][0], groups[last][1]) for first, last in spans]


# A digit doubled as Luhn doubles it (the digits of 2d, summed).
_DOUBLED: Final = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _names(value: Iterable[str] | str) -> frozenset[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        return value  # type: ignore[return-value]  # refused by the validator
    try:
        return frozenset(value)
    except Exception:  # unhashable items, or an iterable that fails while read
        return value  # type: ignore[return-value]  # refused by the validator


def _patterns(value: Iterable[str] | str) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        return value  # type: ignore[return-value]  # refused by the validator
    try:
        return tuple(value)
    except Exception:  # an iterable that fails while it is read
        return value  # type: ignore[return-value]  # refused by the validator


def _check_fields(inst: Masking, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, frozenset):
        fail("masking fields", "a collection of field names (strings)", value)
    for name in sorted(value, key=repr):
        if type(name) is not str or not name.strip():
            fail("masking field name", "a non-empty string", name)
        if MASK in name:
            # A key masked by a pattern must not turn into a sensitive name.
            fail(f"masking field name {show(name)}", f"a name without {MASK!r}", name)
        if any(not _normalise(part) for part in name.split(".")):
            fail(
                f"masking field name {show(name)}",
                "a name or a dotted path of names (no empty part)",
                name,
            )


def _check_patterns(inst: Masking, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple):
        fail("masking patterns", "a sequence of regular expressions (strings)", value)
    for pattern in value:
        if type(pattern) is not str or not pattern:
            fail("masking pattern", "a non-empty string (a regular expression)", pattern)
        try:
            re.compile(pattern)
        except re.error as error:
            raise InvalidValueError(
                f"masking pattern {show(pattern)} is not a regular expression: {error}"
            ) from None


def _check_bool(inst: Masking, attribute: attrs.Attribute[Any], value: object) -> None:
    if type(value) is not bool:
        fail(f"masking {attribute.name}", "True or False", value)


def _check_keep(inst: Masking, attribute: attrs.Attribute[Any], value: object) -> None:
    if type(value) is not int or not 0 <= value <= MAX_KEEP_LAST:
        fail("masking keep_last", f"an integer in 0..{MAX_KEEP_LAST}", value)


@attrs.frozen(slots=True)
class Masking:
    """The rules for masking sensitive data (see the module documentation).

    :param enabled: ``False`` switches masking off: everything keeps its
        raw value (``Router(masking=Masking(enabled=False))``).
    :param fields: sensitive field names (and dotted paths from the top);
        ``DEFAULT_SENSITIVE_FIELDS`` by default. :meth:`with_fields`
        adds to them.
    :param cards: mask Luhn-valid payment card numbers found in strings.
    :param ssns: mask US social-security numbers found in strings.
    :param patterns: more regular expressions whose matches are masked.
    :param keep_last: digits of a card number or SSN left visible, 0..4.

    :raises InvalidValueError: a rule is refused; the message names it.
    """

    enabled: bool = attrs.field(default=True, validator=_check_bool)
    fields: frozenset[str] = attrs.field(
        default=DEFAULT_SENSITIVE_FIELDS, converter=_names, validator=_check_fields
    )
    cards: bool = attrs.field(default=True, validator=_check_bool)
    ssns: bool = attrs.field(default=True, validator=_check_bool)
    patterns: tuple[str, ...] = attrs.field(
        default=(), converter=_patterns, validator=_check_patterns
    )
    keep_last: int = attrs.field(default=MAX_KEEP_LAST, validator=_check_keep)
    # Derived from the fields above, once.
    _bare: frozenset[str] = attrs.field(init=False, eq=False, repr=False)
    _paths: tuple[tuple[str, ...], ...] = attrs.field(init=False, eq=False, repr=False)
    _compiled: tuple[re.Pattern[str], ...] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        split = [tuple(_normalise(part) for part in name.split(".")) for name in self.fields]
        put = object.__setattr__
        put(self, "_bare", frozenset(parts[0] for parts in split if len(parts) == 1))
        put(self, "_paths", tuple(sorted(parts for parts in split if len(parts) > 1)))
        put(self, "_compiled", tuple(re.compile(p) for p in self.patterns))

    # ---------------------------------------------------------- building

    def with_fields(self, *names: str) -> Masking:
        """These rules with more sensitive field names (a profile schema's, a
        configuration's)."""
        return attrs.evolve(self, fields=self.fields | _names(names))

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Masking:
        """Rules from configuration data (a TOML or JSON table)::

            {"enabled": true, "fields": ["account_pin", "billing.iban"],
             "cards": true, "ssns": true, "patterns": ["IBAN[0-9A-Z]+"],
             "keep_last": 4}

        Every key is optional; ``fields`` are added to the default names.

        :raises InvalidValueError: an unknown key or a refused value.
        """
        if not isinstance(settings, Mapping):
            fail("masking settings", "a mapping (a table)", settings)
        known = {"enabled", "fields", "cards", "ssns", "patterns", "keep_last"}
        for key in sorted(settings, key=repr):
            if key not in known:
                raise InvalidValueError(
                    f"masking settings: unknown key {show(key)} "
                    f"(expected some of {', '.join(sorted(known))})"
                )
        given = dict(settings)
        extra = _names(given.pop("fields", ()))
        if not isinstance(extra, frozenset):
            fail("masking settings 'fields'", "a list of field names", extra)
        return cls(**given, fields=DEFAULT_SENSITIVE_FIELDS | extra)

    # ----------------------------------------------------------- masking

    def contact(self, contact: Contact) -> Contact:
        """``contact`` with its attributes masked; the same object when nothing
        changes (or masking is off, or it has no attributes).

        Cost: one test for a contact without attributes; O(size of the
        attributes) otherwise: about 5 us for five flat attributes with
        nothing to mask (docs/masking.md, "Costs").
        """
        if not self.enabled or type(contact) is not Contact or not contact.attributes:
            return contact
        attributes = contact.attributes
        masked = self._walk(attributes, self._paths, 0)
        if masked is attributes:
            return contact
        return attrs.evolve(contact, attributes=masked)

    def value(self, value: _T) -> _T:
        """A JSON value (attributes, a profile, IVR answers) masked: the same
        object when nothing changes. A changed dict or list is a new one; a
        masked number becomes a string. Parts that are not JSON are left
        alone, for the validator of whoever takes the value to refuse.
        Cost: O(size)."""
        if not self.enabled:
            return value
        return self._walk(value, self._paths, 0)  # type: ignore[no-any-return]

    def text(self, text: str) -> str:
        """A free text (a log line) with its card numbers, SSNs and custom
        pattern matches masked; field names cannot be told in free text.
        The same object when nothing changes. Cost: O(len(text)) per pass,
        a second pass when the first masked something."""
        if not self.enabled or type(text) is not str:
            return text
        return self._text(text)

    def redact(self, value: _T) -> _T:
        """A sensitive field's value, masked whole (see the module
        documentation); a value that already looks masked is left alone."""
        if not self.enabled:
            return value
        return self._redact(value, 0)  # type: ignore[no-any-return]

    def fields_of(self, record: _T) -> _T:
        """An attrs record (a command, an event) with every contact and
        mapping among its fields masked; the same object when nothing changes.
        Cost: a type test per field, plus masking what it holds."""
        if not self.enabled:
            return record
        kind = type(record)
        names = _RECORD_FIELDS.get(kind)
        if names is None:
            names = (
                tuple((f.name, f.alias or f.name) for f in attrs.fields(kind) if f.init)
                if attrs.has(kind)
                else ()
            )
            _RECORD_FIELDS[kind] = names
        changes: dict[str, Any] | None = None
        for name, alias in names:
            held = getattr(record, name)
            held_kind = type(held)
            if held_kind is Contact:
                masked: Any = self.contact(held)
            elif held_kind is tuple and held and type(held[0]) is Contact:
                # several contacts in one command
                items = tuple(self.contact(item) for item in held)
                same = all(new is old for new, old in zip(items, held, strict=True))
                masked = held if same else items
            elif (
                held_kind is dict
                or held_kind is _ReadOnlyMapping
                or held_kind is MappingProxyType
                or (
                    held_kind is not str
                    and held_kind is not float
                    and held_kind is not int
                    and isinstance(held, Mapping)
                )
            ):
                masked = self._walk(held, self._paths, 0)
            else:
                continue
            if masked is not held:
                if changes is None:
                    changes = {}
                changes[alias] = masked
        return record if changes is None else attrs.evolve(record, **changes)  # type: ignore[misc]

    def log_record(self, record: _T) -> _T:
        """A log record (an attrs value with ``command`` and ``events``, as
        :class:`~ccroute.LogRecord`) with its command and events masked by
        :meth:`fields_of`: what a service replays from a log written before
        masking was on. The same object when nothing changes."""
        if not self.enabled:
            return record
        command = getattr(record, "command")  # noqa: B009 (any record type)
        events = getattr(record, "events")  # noqa: B009
        masked_command = self.fields_of(command)
        masked_events = tuple(self.fields_of(event) for event in events)
        if masked_command is command and all(
            new is old for new, old in zip(masked_events, events, strict=True)
        ):
            return record
        return attrs.evolve(record, command=masked_command, events=masked_events)  # type: ignore[misc]

    # ---------------------------------------------------------- internals

    def _walk(self, value: Any, paths: tuple[tuple[str, ...], ...], depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self._text(value)
        if kind is _ReadOnlyMapping:
            return self._walk_dict(value, value._data.items(), paths, depth)
        if kind is dict:
            return self._walk_dict(value, value.items(), paths, depth)
        if kind is list or kind is tuple:
            if depth > MAX_JSON_DEPTH:
                return value  # too deep to be JSON (or a cycle): refused by its taker
            out: list[Any] | None = None
            for index, item in enumerate(value):
                new = self._walk(item, paths, depth + 1)
                if new is not item:
                    if out is None:
                        out = list(value)
                    out[index] = new
            if out is None:
                return value
            return out if kind is list else tuple(out)
        if kind is int:
            if value >= _CARD_INT or value <= -_CARD_INT:
                digits = str(value)
                masked = self._text(digits)
                return value if masked is digits else masked
            return value
        if kind is bool or kind is float or value is None:
            return value
        if isinstance(value, Mapping):
            try:
                items = list(value.items())
            except Exception:  # a mapping that cannot be read: refused by its taker
                return value
            return self._walk_dict(value, items, paths, depth)
        return value

    def _walk_dict(
        self,
        value: Any,
        items: Iterable[tuple[Any, Any]],
        paths: tuple[tuple[str, ...], ...],
        depth: int,
    ) -> Any:
        if depth > MAX_JSON_DEPTH:
            return value  # too deep to be JSON (or a cycle): refused by its taker
        # The hot loop of masking a contact: flat strings, booleans and None
        # are handled here, without a call, when nothing can match them.
        bare = self._bare
        by_name = bool(bare or paths)
        quick = not self._compiled
        search = _CANDIDATE.search
        # Nothing is copied (nothing allocated) until something changes.
        pairs: list[tuple[Any, Any]] | None = None
        for index, (key, item) in enumerate(items):
            key_kind = type(key)
            sub: tuple[tuple[str, ...], ...] = ()
            sensitive = False
            if by_name and key_kind is str:
                name = _NORMALISED.get(key)
                if name is None:
                    name = _normalise(key)
                sensitive = name in bare
                if paths and not sensitive:
                    for path in paths:
                        if path[0] == name:
                            if len(path) == 1:
                                sensitive = True
                                break
                            sub += (path[1:],)
            if sensitive:
                new = self._redact(item, depth + 1)
            else:
                kind = type(item)
                if kind is str:
                    if quick and (len(item) < _MIN_MATCH or search(item) is None):
                        new = item
                    else:
                        new = self._text(item)
                elif kind is bool or item is None or kind is float:
                    new = item
                else:
                    new = self._walk(item, sub, depth + 1)
            if key_kind is str and not (quick and (len(key) < _MIN_MATCH or search(key) is None)):
                new_key = self._text(key)
            else:
                new_key = key
            if pairs is not None:
                pairs.append((new_key, new))
            elif new is not item or new_key is not key:
                # The first change: the pairs before it, as they were.
                pairs = [pair for pair, _ in zip(items, range(index), strict=False)]
                pairs.append((new_key, new))
        if pairs is None:
            return value
        # Two keys masked alike (two card numbers as keys): the later one's value stays.
        return dict(pairs)

    def _redact(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            if not value or _MASKED.fullmatch(value):
                return value
            return MASK * len(value)
        if kind is int or kind is float:
            return MASK * len(repr(value))
        if depth > MAX_JSON_DEPTH:
            return value  # too deep to be JSON (or a cycle): refused by its taker
        if kind is list or kind is tuple:
            items = [self._redact(item, depth + 1) for item in value]
            if all(new is old for new, old in zip(items, value, strict=True)):
                return value
            return items if kind is list else tuple(items)
        if (
            kind is dict
            or kind is _ReadOnlyMapping
            or (kind is not bool and isinstance(value, Mapping))
        ):
            try:
                pairs = list(value.items())
            except Exception:  # refused by its taker
                return value
            out = {
                (self._text(key) if type(key) is str else key): self._redact(item, depth + 1)
                for key, item in pairs
            }
            if len(out) == len(pairs) and all(
                out.get(key, _MISSING) is item for key, item in pairs
            ):
                return value
            return out
        return value  # bool, None, anything else

    def _text(self, text: str) -> str:
        if not self._compiled and _CANDIDATE.search(text) is None:
            return text
        # To a fixed point: a pass may leave a card's last four beside
        # digits that, with them, make another card; each pass that changes
        # the text masks one more character, so this ends.
        current = text
        while True:
            new = self._pass(current)
            if new is current or new == current:
                return current
            current = new

    def _pass(self, text: str) -> str:
        """One pass of every rule over ``text``: the same object when nothing matched."""
        keep = self.keep_last
        if self.ssns and _SSN.search(text) is not None:
            text = _SSN.sub(lambda m: _ssn_masked(m, keep), text)
        if self.cards:
            pieces: list[str] = []
            done = 0
            for match in _RUN.finditer(text):
                base, stop = match.span()
                # A group glued to a letter or "_" belongs to a token, not a
                # card: only the run's first and last groups can be.
                if base and _GLUE.match(text, base - 1):
                    cut = text.find(" ", base, stop), text.find("-", base, stop)
                    first = min((c for c in cut if c >= 0), default=-1)
                    if first < 0:
                        continue
                    base = first + 1
                if stop < len(text) and _GLUE.match(text, stop):
                    last = max(text.rfind(" ", base, stop), text.rfind("-", base, stop))
                    if last < 0:
                        continue
                    stop = last
                run = text[base:stop]
                # Fewer than 13 digits (separators aside): no card.
                if len(run) - run.count(" ") - run.count("-") < _MIN_CARD:
                    continue
                for start, end in _card_spans(run):
                    pieces.append(text[done : base + start])
                    pieces.append(_hide_digits(run[start:end], keep))
                    done = base + end
            if pieces:
                pieces.append(text[done:])
                text = "".join(pieces)
        for pattern in self._compiled:
            if pattern.search(text) is not None:
                text = pattern.sub(lambda m: MASK * len(m.group()), text)
        return text


_MISSING: Final = object()
# attrs classes -> their field names (fields_of).
_RECORD_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}


def _ssn_masked(match: re.Match[str], keep: int) -> str:
    area, _sep, group, serial = match.groups()
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return match.group()
    return _hide_digits(match.group(), keep)


class MaskingFilter:
    """A logging filter that masks card numbers, SSNs and custom patterns in
    every record it sees (the message with its arguments, and the
    traceback's text). The service puts one on its logger while it runs:
    ``logger.addFilter(MaskingFilter(masking))``.

    It is a plain object with logging's ``filter(record)`` method, so that
    this module (part of the pure core) does not import logging.

    Cost: formatting the message (as a handler would) and one
    :meth:`Masking.text` per record.
    """

    def __init__(self, masking: Masking) -> None:
        self.masking = masking

    def filter(self, record: Any) -> bool:
        """Mask the ``logging.LogRecord`` in place; never drops it."""
        masking = self.masking
        try:
            message = record.getMessage()
        except Exception:  # a record that cannot format: the handler says so
            return True
        masked = masking.text(message)
        if masked is not message:
            record.msg = masked
            record.args = None
        exc_info = record.exc_info
        if exc_info and exc_info[1] is not None and not record.exc_text:
            # What logging.Formatter.formatException writes, masked.
            text = "".join(traceback.format_exception(*exc_info)).rstrip("\n")
            record.exc_text = masking.text(text)
        if record.stack_info:
            record.stack_info = masking.text(record.stack_info)
        return True


def masking_for(masking: Masking | None, settings: Mapping[str, Any] | None) -> Masking:
    """The rules a service uses: ``masking`` when given, else
    ``settings["masking"]`` (a :class:`Masking` or a table for
    :meth:`Masking.from_settings`), else the default rules.

    :raises InvalidValueError: a value of the wrong kind, or both given.
    """
    configured = None if settings is None else settings.get("masking")
    if masking is not None:
        if not isinstance(masking, Masking):
            fail("masking", "a Masking or None", masking)
        if configured is not None:
            raise InvalidValueError("give masking either as an argument or in settings, not both")
        return masking
    if configured is None:
        return _DEFAULT
    if isinstance(configured, Masking):
        return configured
    if isinstance(configured, Mapping):
        return Masking.from_settings(configured)
    fail("settings['masking']", "a Masking or a table of masking settings", configured)


_DEFAULT: Final = Masking()

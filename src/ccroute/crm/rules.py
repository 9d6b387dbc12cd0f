"""Enrichment rules as data: how a customer's profile and history change routing.

A rule set is a list of rules, each a mapping with a ``kind`` (TOML's
``[[rules]]`` tables, or the same shape in JSON or Python); see docs/crm.md,
"Enrichment rules". The kinds:

``tier``
    a profile field (``field``, default ``"tier"``) whose value selects a
    boost in ``values``: ``priority_seconds`` (a head start) and/or ``tier``
    (a strict class). The contact keeps the higher of its own and the boost.
``language``
    a profile field (``field``, default ``"language"``) whose value selects
    a skill in ``skills``, required at ``level`` (default 1) or above.
``last_agent``
    the agent who last served the customer, if that contact ended within
    ``within_days``, becomes the preferred agent for ``max_wait`` seconds
    (``same_queue``: only an agent of a contact that ended in this queue).
``open_case``
    a profile field (``field``, default ``"open_case"``) holding the open
    case (a mapping, or a list of them: the first open one counts) whose
    ``owner`` (key ``owner_key``, default ``"owner"``) becomes the preferred
    agent for ``max_wait`` seconds; a case whose ``status`` is in ``closed``
    (default ``["closed", "resolved"]``) is not open.

Rules apply in the order listed. A boost or a skill never lowers what the
contact has; a preferred agent is set only when the contact has none (so
list ``open_case`` before ``last_agent`` when the case owner should win),
and never to an agent the contact excludes.

Validation happens once, when the rules are built: an error names the rule
(its ``name``, or its kind and place) and the field.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeAlias

import attrs

from .._values import MAX_ID_LENGTH, MAX_SECONDS, MAX_TIER, show
from ..errors import InputError, InvalidValueError
from ..model import MAX_LEVEL, MIN_LEVEL, Contact
from .store import LastServed

__all__ = [
    "EnrichmentRules",
    "LanguageRule",
    "LastAgentRule",
    "OpenCaseRule",
    "Rule",
    "TierBoost",
    "TierRule",
]

_DAY: Final = 86_400.0


@attrs.frozen(slots=True)
class TierBoost:
    """What a tier rule gives a contact: a head start and/or a strict tier."""

    priority_seconds: float | None = None
    tier: int | None = None


@attrs.frozen(slots=True)
class TierRule:
    """Profile tier → priority (see the module documentation)."""

    name: str
    field: str
    values: Mapping[str, TierBoost]


@attrs.frozen(slots=True)
class LanguageRule:
    """Profile language → a required language skill."""

    name: str
    field: str
    skills: Mapping[str, str]
    level: int


@attrs.frozen(slots=True)
class LastAgentRule:
    """The last agent within some days → preferred agent, for a bounded wait."""

    name: str
    within_days: float
    max_wait: float
    same_queue: bool


@attrs.frozen(slots=True)
class OpenCaseRule:
    """An open case in the profile → its owner as preferred agent."""

    name: str
    field: str
    owner_key: str
    max_wait: float
    closed: frozenset[str]


Rule: TypeAlias = TierRule | LanguageRule | LastAgentRule | OpenCaseRule


# ----------------------------------------------------------------- reading


class _Reader:
    """Reads one rule's mapping, naming the rule and the field in every refusal."""

    def __init__(self, data: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        self.data = data
        self.where = where
        unknown = sorted(set(data) - allowed - {"kind", "name"})
        if unknown:
            raise InvalidValueError(
                f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(sorted(allowed))})"
            )

    def fail(self, field: str, expected: str, value: object) -> InvalidValueError:
        return InvalidValueError(
            f"{self.where}: field {field!r} must be {expected}, got {show(value)}"
        )

    def text(self, field: str, default: str | None = None) -> str:
        value = self.data.get(field, default)
        if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
            raise self.fail(field, "a non-empty string", value)
        return value

    def seconds(self, field: str, value: object, *, required: bool = True) -> float | None:
        if value is None and not required:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 <= value <= MAX_SECONDS
        ):
            raise self.fail(field, f"a number of seconds in 0..{MAX_SECONDS:g}", value)
        return float(value)

    def positive(self, field: str) -> float:
        value = self.data.get(field)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 < value <= 3650
        ):
            raise self.fail(field, "a number of days in (0, 3650]", value)
        return float(value)

    def flag(self, field: str, default: bool) -> bool:
        value = self.data.get(field, default)
        if not isinstance(value, bool):
            raise self.fail(field, "true or false", value)
        return value

    def table(self, field: str) -> Mapping[str, Any]:
        value = self.data.get(field)
        if not isinstance(value, Mapping) or not value:
            raise self.fail(field, "a non-empty table", value)
        for key in value:
            if not isinstance(key, str) or not key:
                raise self.fail(field, "a table with non-empty string keys", key)
        return value


def _tier(r: _Reader, name: str) -> TierRule:
    values: dict[str, TierBoost] = {}
    for key, boost in r.table("values").items():
        field = f"values.{key}"
        if not isinstance(boost, Mapping):
            raise r.fail(field, "a table with priority_seconds and/or tier", boost)
        unknown = sorted(set(boost) - {"priority_seconds", "tier"})
        if unknown:
            raise r.fail(f"{field}.{unknown[0]}", "absent (fields: priority_seconds, tier)", "set")
        if not boost:
            raise r.fail(field, "a table with priority_seconds and/or tier", boost)
        tier = boost.get("tier")
        if tier is not None and (
            isinstance(tier, bool) or not isinstance(tier, int) or not 0 <= tier <= MAX_TIER
        ):
            raise r.fail(f"{field}.tier", f"an integer in 0..{MAX_TIER}", tier)
        seconds = r.seconds(
            f"{field}.priority_seconds", boost.get("priority_seconds"), required=False
        )
        values[key.casefold()] = TierBoost(seconds, tier)
    return TierRule(name, r.text("field", "tier"), values)


def _language(r: _Reader, name: str) -> LanguageRule:
    skills: dict[str, str] = {}
    for key, skill in r.table("skills").items():
        if not isinstance(skill, str) or not skill or len(skill) > MAX_ID_LENGTH:
            raise r.fail(f"skills.{key}", "a skill name", skill)
        skills[key.casefold()] = skill
    level = r.data.get("level", 1)
    if isinstance(level, bool) or not isinstance(level, int) or not MIN_LEVEL <= level <= MAX_LEVEL:
        raise r.fail("level", f"an integer in {MIN_LEVEL}..{MAX_LEVEL}", level)
    return LanguageRule(name, r.text("field", "language"), skills, level)


def _last_agent(r: _Reader, name: str) -> LastAgentRule:
    wait = r.seconds("max_wait", r.data.get("max_wait"))
    assert wait is not None
    return LastAgentRule(name, r.positive("within_days"), wait, r.flag("same_queue", False))


def _open_case(r: _Reader, name: str) -> OpenCaseRule:
    wait = r.seconds("max_wait", r.data.get("max_wait"))
    assert wait is not None
    closed = r.data.get("closed", ["closed", "resolved"])
    if not isinstance(closed, list | tuple) or not all(isinstance(s, str) for s in closed):
        raise r.fail("closed", "a list of status strings", closed)
    return OpenCaseRule(
        name,
        r.text("field", "open_case"),
        r.text("owner_key", "owner"),
        wait,
        frozenset(s.casefold() for s in closed),
    )


_KINDS: Final[dict[str, tuple[Callable[[_Reader, str], Rule], set[str]]]] = {
    "tier": (_tier, {"field", "values"}),
    "language": (_language, {"field", "skills", "level"}),
    "last_agent": (_last_agent, {"within_days", "max_wait", "same_queue"}),
    "open_case": (_open_case, {"field", "owner_key", "max_wait", "closed"}),
}


def _read_rule(data: object, index: int, seen: set[str]) -> Rule:
    where = f"enrichment rule {index}"
    if not isinstance(data, Mapping):
        raise InvalidValueError(f"{where} must be a table, got {show(data)}")
    kind = data.get("kind")
    name = data.get("name", f"{kind}#{index}" if isinstance(kind, str) else f"#{index}")
    if not isinstance(name, str) or not name or len(name) > MAX_ID_LENGTH:
        raise InvalidValueError(
            f"{where}: field 'name' must be a non-empty string, got {show(name)}"
        )
    where = f"enrichment rule {name!r}"
    if name in seen:
        raise InvalidValueError(f"{where}: the name is used by an earlier rule")
    seen.add(name)
    if kind not in _KINDS:
        raise InvalidValueError(
            f"{where}: field 'kind' must be one of {', '.join(_KINDS)}, got {show(kind)}"
        )
    read, allowed = _KINDS[kind]
    return read(_Reader(data, f"{where} ({kind})", allowed), name)


# ---------------------------------------------------------------- applying


def _key(value: object) -> str | None:
    """A profile value as a rule's lookup key (strings and integers match)."""
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _open_owner(rule: OpenCaseRule, value: object) -> str | None:
    cases = value if isinstance(value, list) else [value]
    for case in cases:
        if not isinstance(case, Mapping):
            continue
        status = case.get("status")
        if isinstance(status, str) and status.casefold() in rule.closed:
            continue
        owner = case.get(rule.owner_key)
        if isinstance(owner, str) and owner and len(owner) <= MAX_ID_LENGTH:
            return owner
    return None


@attrs.frozen(slots=True)
class EnrichmentRules:
    """An ordered, validated rule set (build it with :meth:`from_data` or
    :meth:`from_toml`; :func:`ccroute.crm.load_rules` reads a TOML file).

    :meth:`apply` is pure: the same contact, profile, last agent and time
    give the same contact.
    """

    rules: tuple[Rule, ...] = ()

    @classmethod
    def from_data(cls, data: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> EnrichmentRules:
        """Rules from ``{"rules": [...]}`` or the list itself.

        :raises InvalidValueError: naming the rule and the field.
        """
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - {"rules"})
            if unknown:
                raise InvalidValueError(
                    f"enrichment rules: unknown key {unknown[0]!r} (expected 'rules')"
                )
            data = data.get("rules", [])
        if not isinstance(data, list | tuple):
            raise InvalidValueError(f"enrichment rules must be a list of tables, got {show(data)}")
        seen: set[str] = set()
        return cls(tuple(_read_rule(item, i, seen) for i, item in enumerate(data)))

    @classmethod
    def from_toml(cls, text: str) -> EnrichmentRules:
        """Rules from TOML text (``[[rules]]`` tables).

        :raises InputError: the text is not TOML.
        :raises InvalidValueError: a rule is refused (naming it and the field).
        """
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise InputError(f"enrichment rules: not valid TOML: {error}") from None
        return cls.from_data(data)

    @property
    def needs_history(self) -> bool:
        """Whether a rule reads the customer's history (``last_agent``)."""
        return any(isinstance(rule, LastAgentRule) for rule in self.rules)

    @property
    def history_days(self) -> float:
        """The longest look-back of the ``last_agent`` rules, in days (0 without)."""
        return max((r.within_days for r in self.rules if isinstance(r, LastAgentRule)), default=0.0)

    def apply(
        self,
        contact: Contact,
        profile: Mapping[str, Any],
        last: LastServed | None = None,
        now: float = 0.0,
    ) -> Contact:
        """The contact as the rules change it (the same object when none applies).

        :param profile: the customer's profile (empty when none).
        :param last: who last served the customer (:meth:`CRMStore.last_agent
            <ccroute.crm.CRMStore.last_agent>`), or ``None``.
        :param now: the router clock time (for ``within_days``).

        Cost: O(rules + requirements).
        """
        priority, tier = contact.priority_seconds, contact.tier
        requirements = dict(contact.requirements)
        preferred, wait = contact.preferred_agent, contact.preferred_wait
        for rule in self.rules:
            if isinstance(rule, TierRule):
                boost = rule.values.get(_key(profile.get(rule.field)) or "")
                if boost is not None:
                    if boost.priority_seconds is not None:
                        priority = max(priority, boost.priority_seconds)
                    if boost.tier is not None:
                        tier = max(tier, boost.tier)
            elif isinstance(rule, LanguageRule):
                skill = rule.skills.get(_key(profile.get(rule.field)) or "")
                if skill is not None:
                    requirements[skill] = max(requirements.get(skill, 0), rule.level)
            elif preferred is None:
                agent = None
                if isinstance(rule, LastAgentRule):
                    if (
                        last is not None
                        and last.ended_at >= now - rule.within_days * _DAY
                        and (not rule.same_queue or last.queue == contact.queue)
                    ):
                        agent = last.agent_id
                else:
                    agent = _open_owner(rule, profile.get(rule.field))
                if agent is not None and agent not in contact.excluded_agents:
                    preferred, wait = agent, rule.max_wait
        if (
            priority == contact.priority_seconds
            and tier == contact.tier
            and requirements == dict(contact.requirements)
            and preferred == contact.preferred_agent
        ):
            return contact
        return attrs.evolve(
            contact,
            priority_seconds=priority,
            tier=tier,
            requirements=requirements,
            preferred_agent=preferred,
            preferred_wait=wait,
        )

"""The built-in CRM as a plugin: a store and enrichment rules behind the CRM hooks.

:class:`BuiltinCRM` implements ``ccroute_crm_lookup`` (the stored profile),
``ccroute_crm_enrich`` (the rules), ``ccroute_crm_record`` (the history)
and ``ccroute_crm_history`` (the screen pop's recent history). The service
builds one from ``settings["crm"]`` (:func:`crm_from_settings`) and
registers it right after ccroute's own defaults, so every other plugin
takes precedence: an external CRM's ``ccroute_crm_lookup`` answers first,
and the built-in rules enrich the profile it found unless a plugin's own
``ccroute_crm_enrich`` returns a contact first (docs/crm.md, "Order").
An application may also build one itself and pass it in ``plugins``.

The hooks are ``async``: an in-memory store answers on the event loop, an
SQLite one in a worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

from .._values import show
from ..clock import Clock, WallClock
from ..errors import InputError, InvalidValueError
from ..hookspecs import hookimpl
from ..hooktypes import HistoryRecord
from ..model import Contact
from .rules import EnrichmentRules
from .store import CRMStore, MemoryCRM, check_limit

__all__ = ["DEFAULT_SCREEN_POP_HISTORY", "BuiltinCRM", "crm_from_settings", "load_rules"]

#: Finished contacts the screen pop shows, by default.
DEFAULT_SCREEN_POP_HISTORY: Final = 5
_DAY: Final = 86_400.0
_SETTINGS: Final = frozenset({"store", "path", "rules", "history_limit", "sync"})

_T = TypeVar("_T")


class BuiltinCRM:
    """ccroute's own CRM: profiles, history and enrichment rules.

    :param store: where profiles and history live (a :class:`MemoryCRM` by
        default).
    :param rules: the enrichment rules (an :class:`EnrichmentRules`, or the
        data :meth:`EnrichmentRules.from_data` reads); none by default.
    :param clock: the clock the service runs on (the ``last_agent`` rule's
        "within N days" counts back from its time); the wall clock by default.
    :param history_limit: how many finished contacts the screen pop shows.
    """

    #: The name the service registers it under.
    plugin_name: Final = "ccroute.crm"

    def __init__(
        self,
        store: CRMStore | None = None,
        rules: EnrichmentRules | Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        clock: Clock | None = None,
        history_limit: int = DEFAULT_SCREEN_POP_HISTORY,
    ) -> None:
        if store is not None and not isinstance(store, CRMStore):
            raise InvalidValueError(f"store must be a CRM store, got {show(store)}")
        if rules is None:
            rules = EnrichmentRules()
        elif not isinstance(rules, EnrichmentRules):
            rules = EnrichmentRules.from_data(rules)
        self.store: CRMStore = store if store is not None else MemoryCRM()
        """The profiles and history (the application reads and writes profiles here)."""
        self.rules: EnrichmentRules = rules
        """The enrichment rules."""
        self.history_limit = check_limit(history_limit)
        """How many finished contacts the screen pop shows."""
        self._clock: Clock = clock if clock is not None else WallClock()
        # The service names the plugin after this attribute (see make_plugin_manager).
        self.__name__ = self.plugin_name

    def __repr__(self) -> str:
        return f"BuiltinCRM({self.store!r}, {len(self.rules.rules)} rules)"

    async def _call(self, fn: Callable[..., _T], *args: Any) -> _T:
        if not self.store.blocking:
            return fn(*args)
        import anyio.to_thread  # the plugin runs in a service: anyio is there

        return await anyio.to_thread.run_sync(fn, *args)

    @hookimpl
    async def ccroute_crm_lookup(self, customer_id: str) -> dict[str, Any] | None:
        """The stored profile (``None`` when there is none: the next CRM is asked)."""
        return await self._call(self.store.profile, customer_id)

    @hookimpl
    async def ccroute_crm_enrich(
        self, contact: Contact, profile: Mapping[str, Any]
    ) -> Contact | None:
        """The contact as the rules change it (``None`` when they change nothing)."""
        rules = self.rules
        if not rules.rules:
            return None
        now = self._clock.now()
        last = None
        if rules.needs_history and contact.customer_id is not None:
            since = now - rules.history_days * _DAY
            last = await self._call(self.store.last_agent, contact.customer_id, since)
        enriched = rules.apply(contact, profile, last, now)
        return None if enriched is contact else enriched

    @hookimpl
    async def ccroute_crm_record(self, record: HistoryRecord) -> None:
        """Keep a finished contact in the history."""
        await self._call(self.store.record, record)

    @hookimpl
    async def ccroute_crm_history(self, customer_id: str) -> list[HistoryRecord]:
        """The customer's last ``history_limit`` finished contacts, newest first."""
        return await self._call(self.store.history, customer_id, self.history_limit)

    def close(self) -> None:
        """Close the store."""
        self.store.close()


def load_rules(path: str | os.PathLike[str]) -> EnrichmentRules:
    """Enrichment rules from a TOML file (:meth:`EnrichmentRules.from_toml`).

    :raises InputError: the file cannot be read or is not TOML (naming it).
    :raises InvalidValueError: a rule is refused (naming the file, the rule
        and the field).
    """
    where = os.fspath(path)
    try:
        text = Path(where).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"enrichment rules: cannot read {where!r}: {error}") from None
    try:
        return EnrichmentRules.from_toml(text)
    except (InputError, InvalidValueError) as error:
        raise type(error)(f"{where}: {error}") from None


def crm_path(log_path: str) -> str:
    """Where the CRM file goes beside a log: ``centre.db`` → ``centre-crm.db``."""
    path = Path(log_path)
    return str(path.with_name(f"{path.stem}-crm{path.suffix or '.db'}"))


def crm_from_settings(settings: Mapping[str, Any], clock: Clock | None = None) -> BuiltinCRM | None:
    """The built-in CRM ``settings["crm"]`` asks for, or ``None``.

    ``settings["crm"]`` is ``True`` (every default) or a mapping:

    - ``"store"``: ``"sqlite"`` (the default when the service has a log
      file, ``settings["path"]``) or ``"memory"`` (the default otherwise);
    - ``"path"``: the SQLite file (default: beside the log, see ``crm_path``);
    - ``"sync"``: its ``synchronous`` mode (``"NORMAL"``);
    - ``"rules"``: enrichment rules, as data or the path of a TOML file;
    - ``"history_limit"``: finished contacts in the screen pop (5).

    :raises InvalidValueError: a setting is wrong (named); the rules' own
        errors name the rule and field.
    """
    value = settings.get("crm")
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, Mapping):
        raise InvalidValueError(f'settings["crm"] must be true or a mapping, got {show(value)}')
    unknown = sorted(set(value) - _SETTINGS)
    if unknown:
        raise InvalidValueError(
            f'settings["crm"]: unknown key {unknown[0]!r} (keys: {", ".join(sorted(_SETTINGS))})'
        )
    log_path = settings.get("path")
    path = value.get("path")
    kind = value.get("store", "sqlite" if path is not None or log_path is not None else "memory")
    if kind not in ("sqlite", "memory"):
        raise InvalidValueError(
            f'settings["crm"]["store"] must be "sqlite" or "memory", got {show(kind)}'
        )
    rules = value.get("rules")
    if isinstance(rules, str | os.PathLike):
        rules = load_rules(rules)
    limit = value.get("history_limit", DEFAULT_SCREEN_POP_HISTORY)
    store: CRMStore
    if kind == "memory":
        store = MemoryCRM()
    else:
        if path is None:
            if log_path is None:
                raise InvalidValueError(
                    'settings["crm"]: an SQLite CRM store needs a "path" (or the service a log file)'
                )
            path = crm_path(str(log_path))
        if not isinstance(path, str | os.PathLike):
            raise InvalidValueError(f'settings["crm"]["path"] must be a path, got {show(path)}')
        from .sqlite import SQLiteCRM

        store = SQLiteCRM(path, synchronous=value.get("sync", "NORMAL"))
    try:
        return BuiltinCRM(store, rules, clock=clock, history_limit=limit)
    except BaseException:
        store.close()
        raise

"""The built-in CRM: customer profiles, contact history, enrichment rules.

- :class:`MemoryCRM` and :class:`SQLiteCRM`: the profile store and the
  history of every finished contact (:mod:`ccroute.crm.store`,
  :mod:`ccroute.crm.sqlite`);
- :class:`EnrichmentRules`: rules as data that change how a contact is
  routed from its customer's profile and history (:mod:`ccroute.crm.rules`);
- :class:`BuiltinCRM`: the plugin that serves both to the service through
  the CRM hooks (:mod:`ccroute.crm.plugin`).

See docs/crm.md. The names load on first use: the SQLite store and the
plugin import :mod:`sqlite3`, anyio and pluggy, which ``import ccroute`` must not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from .context import IVR_KEY, ivr_answers, predicted_intent
    from .plugin import BuiltinCRM, crm_from_settings, load_rules
    from .rules import (
        EnrichmentRules,
        LanguageRule,
        LastAgentRule,
        OpenCaseRule,
        TierBoost,
        TierRule,
    )
    from .sqlite import SQLiteCRM
    from .store import CRMStore, LastServed, MemoryCRM

_LAZY: dict[str, str] = {
    "IVR_KEY": ".context",
    "ivr_answers": ".context",
    "predicted_intent": ".context",
    "BuiltinCRM": ".plugin",
    "crm_from_settings": ".plugin",
    "load_rules": ".plugin",
    "EnrichmentRules": ".rules",
    "LanguageRule": ".rules",
    "LastAgentRule": ".rules",
    "OpenCaseRule": ".rules",
    "TierBoost": ".rules",
    "TierRule": ".rules",
    "SQLiteCRM": ".sqlite",
    "CRMStore": ".store",
    "LastServed": ".store",
    "MemoryCRM": ".store",
}

_getattr, __dir__ = _lazy_exports(__name__, globals(), _LAZY)

if not TYPE_CHECKING:  # type checkers see the imports above, and no catch-all attribute
    __getattr__ = _getattr


__all__ = [
    "IVR_KEY",
    "BuiltinCRM",
    "CRMStore",
    "EnrichmentRules",
    "LanguageRule",
    "LastAgentRule",
    "LastServed",
    "MemoryCRM",
    "OpenCaseRule",
    "SQLiteCRM",
    "TierBoost",
    "TierRule",
    "crm_from_settings",
    "ivr_answers",
    "load_rules",
    "predicted_intent",
]

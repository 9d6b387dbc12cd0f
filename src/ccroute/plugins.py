"""Loading ccroute's plugins, and calling their hooks one implementation at a time.

:func:`make_plugin_manager` builds the pluggy manager: the hook specs of
:mod:`ccroute.hookspecs`, the built-in defaults, the third-party plugins of the
``ccroute`` entry-point group and the application's own plugins, checked so
that a mistake (a misspelt hook, an entry point that does not import) fails at
start-up with a :class:`~ccroute.errors.PluginError` rather than silently.

:class:`Hooks` is the typed way the service calls hooks. It never calls a hook
through pluggy's ``pm.hook.<name>(...)``, which would run every implementation
in one go and lose every result when one raises: it calls each implementation
by itself, with a timeout, so a plugin that raises, hangs or returns junk is
logged, counted and skipped while the others still have their say.

:func:`describe_plugins` says what was loaded (name, distribution and version,
source, hooks), and :func:`log_plugins` logs it; the service does so at start,
and ``ccroute plugins`` prints it.

Nothing here runs at import: plugins are found and imported only when
:func:`make_plugin_manager` is called. This module never imports
:mod:`ccroute.service`: channel adapters get a
:class:`~ccroute.hooktypes.ServiceHandle`.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import difflib
import functools
import importlib.metadata
import inspect
import logging
import math
import os
import re
import reprlib
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, Literal

import anyio
import anyio.lowlevel
import anyio.to_thread
import attrs
import pluggy

from . import default_plugins, hookspecs
from ._values import check_json, copy_json
from .errors import InvalidValueError, PluginError
from .events import CustomerEnriched, Event
from .hooktypes import (
    AgentStrategy,
    CustomerUpdate,
    HistoryRecord,
    IvrFlow,
    OfferDelivery,
    ServiceHandle,
)
from .ivr.intent import IntentPrediction
from .model import Channel, Contact, _ReadOnlyMapping
from .storage import AsyncStorage, Storage, is_async_storage
from .views import ContactView

__all__ = [
    "DEFAULT_PLUGIN_NAME",
    "HOOK_THREADS",
    "LOAD_PLUGINS_ENV",
    "MAX_HOOK_NESTING",
    "FailureKind",
    "FlowChoice",
    "Hooks",
    "PluginInfo",
    "PluginSource",
    "describe_plugins",
    "log_plugins",
    "make_plugin_manager",
]

#: The name the built-in defaults (:mod:`ccroute.default_plugins`) are registered under.
DEFAULT_PLUGIN_NAME: Final = "ccroute.default"

#: Environment variable selecting the entry-point plugins to load (see
#: :func:`make_plugin_manager`).
LOAD_PLUGINS_ENV: Final = "CCROUTE_LOAD_PLUGINS"

#: Worker threads each plugin's plain hook implementations may occupy at once,
#: per event loop. Every plugin has a limiter of its own, apart from anyio's
#: default one, so that a plugin stuck in abandoned threads (on trio such a
#: thread keeps its token until it returns) slows down only its own later
#: calls: never another plugin's, never the store.
HOOK_THREADS: Final = 40

#: Hook calls one task may have in progress inside each other: a plugin whose
#: hook calls back into the service (``inbound`` from ``ccroute_ivr_flow``,
#: say) makes the service call hooks again. Deeper, the hook is not called
#: (a failure of the plugin's): unbounded, such a loop ran the task out of
#: stack in the middle of a router call, which stopped the service.
MAX_HOOK_NESTING: Final = 16

# How many hook calls the running task is inside (see MAX_HOOK_NESTING).
_hook_nesting: contextvars.ContextVar[int] = contextvars.ContextVar(
    "ccroute_hook_nesting", default=0
)

#: How a hook implementation failed: it raised, returned a value of the wrong
#: type, or ran past the hook timeout.
FailureKind = Literal["raised", "junk", "timeout"]

#: Where a loaded plugin came from: ccroute's own defaults, a distribution's
#: ``ccroute`` entry point, or the application (``plugins=[...]``).
PluginSource = Literal["built-in", "entry point", "application"]

_HOOK_PREFIX: Final = hookspecs.PROJECT + "_"
_LOGGER_NAME: Final = "ccroute.plugins"
_KIND_TEXT: Final[Mapping[str, str]] = {
    "raised": "raised",
    "junk": "returned junk",
    "timeout": "timed out",
}

# A repr short enough for a log line, whatever a plugin returns.
_short_repr = reprlib.Repr()
_short_repr.maxstring = 60
_short_repr.maxother = 60


# --------------------------------------------------------------------- loading


def make_plugin_manager(
    plugins: Iterable[object] = (),
    *,
    load_entrypoints: bool = True,
    builtins: Iterable[tuple[str, object]] = (),
) -> pluggy.PluginManager:
    """Create the plugin manager of project ``"ccroute"`` with every plugin loaded.

    Plugins are registered in this order:

    1. the built-in defaults, module :mod:`ccroute.default_plugins`, under the
       name ``"ccroute.default"``, exactly as a third-party plugin would be,
       then the optional built-ins the application turned on (``builtins``:
       ``(name, plugin)`` pairs, such as the built-in CRM the service makes
       from ``settings["crm"]``);
    2. third-party plugins from the ``ccroute`` entry-point group, each under
       its entry-point name, sorted by distribution name and then entry-point
       name so that the order does not depend on ``sys.path``;
    3. the ``plugins`` given here, in the order given, each under its
       ``__name__`` (a module's dotted name) or, for an object without one,
       ``"<class name>@<hex id>"``.

    Precedence: pluggy calls implementations last-registered-first, so for a
    first-result hook the application's explicit plugins win over third-party
    ones, which win over the built-in defaults; for a collected hook that is the
    order the results come in (where "first wins", as for channel names, the
    same precedence holds). ``tryfirst``/``trylast`` still apply on top: a
    ``tryfirst`` implementation is asked before every plain one whenever it was
    registered, a ``trylast`` one after every plain one, the built-in defaults
    included (so a ``trylast`` storage is reached only if the default fails).

    Which entry-point plugins load is read from the environment variable
    ``CCROUTE_LOAD_PLUGINS`` when this function runs (never at import): unset
    loads all of them; a comma-separated list of distribution names (spaces
    ignored, names compared as pip does, case- and ``-_.``-insensitively) loads
    only those distributions' plugins; set but empty loads none.
    ``load_entrypoints=False`` skips entry points altogether, whatever the
    environment says.

    :raises PluginError: when ``CCROUTE_LOAD_PLUGINS`` names a distribution
        that is not installed or has no ``ccroute`` entry point; an entry point
        fails to import; a plugin (the same object, or another under the same
        name) is registered twice; a plugin's function is named like a hook but
        not marked with ``@ccroute.hookimpl``, is a wrapper (``wrapper=True`` or
        ``hookwrapper=True``: ccroute calls implementations one at a time to
        isolate faults, so wrappers are not supported), asks for an argument
        its hook does not have, or implements a hook that does not exist. The
        message names the plugin and the hook.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    origins: dict[str, _Origin] = {}
    _origins[pm] = origins
    _register(pm, default_plugins, DEFAULT_PLUGIN_NAME, "built-in")
    origins[DEFAULT_PLUGIN_NAME] = _Origin("built-in", "ccroute", _ccroute_version())
    for name, plugin in builtins:
        _register(pm, plugin, name, "built-in")
        origins[name] = _Origin("built-in", "ccroute", _ccroute_version())
    if load_entrypoints:
        for dist, entry_point in _selected_entry_points():
            origin = f"entry point {entry_point.value!r} of distribution {dist!r}"
            try:
                plugin = entry_point.load()
            except Exception as error:
                raise PluginError(
                    f"plugin {entry_point.name!r} ({origin}) failed to import: "
                    f"{type(error).__name__}: {error}"
                ) from error
            _register(pm, plugin, entry_point.name, origin)
            version = entry_point.dist.version if entry_point.dist is not None else None
            origins[entry_point.name] = _Origin("entry point", dist, version, entry_point.value)
    for plugin in plugins:
        name = _explicit_name(plugin)
        _register(pm, plugin, name, "passed by the application")
        origins[name] = _Origin("application")
    _check_pending(pm)
    return pm


def _explicit_name(plugin: object) -> str:
    name = getattr(plugin, "__name__", None)
    if isinstance(name, str) and name:
        return name
    # pluggy would use the bare id(), which says nothing in a log line.
    return f"{type(plugin).__qualname__}@{id(plugin):x}"


def _normalize(dist_name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", dist_name).lower()


def _selected_entry_points() -> list[tuple[str, importlib.metadata.EntryPoint]]:
    """The entry points to load, as (distribution name, entry point), in load order."""
    found: list[tuple[str, importlib.metadata.EntryPoint]] = []
    for entry_point in importlib.metadata.entry_points(group=hookspecs.PROJECT):
        dist = entry_point.dist.name if entry_point.dist is not None else "<unknown>"
        found.append((dist, entry_point))
    found.sort(key=lambda item: (_normalize(item[0]), item[1].name))

    wanted = os.environ.get(LOAD_PLUGINS_ENV)
    if wanted is None:
        return found
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    available = {_normalize(dist) for dist, _ in found}
    unknown = [name for name in names if _normalize(name) not in available]
    if unknown:
        installed = ", ".join(sorted({dist for dist, _ in found})) or "none"
        raise PluginError(
            f"{LOAD_PLUGINS_ENV} names {', '.join(map(repr, unknown))}, but no installed "
            f"distribution of that name has a {hookspecs.PROJECT!r} entry point "
            f"(distributions with one: {installed})"
        )
    chosen = {_normalize(name) for name in names}
    return [(dist, ep) for dist, ep in found if _normalize(dist) in chosen]


def _register(pm: pluggy.PluginManager, plugin: object, name: str, origin: str) -> None:
    label = f"plugin {name!r} ({origin})"
    # Checked before registering, so that a refused plugin leaves nothing behind.
    for attr in dir(plugin):
        if not attr.startswith(_HOOK_PREFIX):
            continue
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            if _is_routine(inspect.getattr_static(plugin, attr, None)):
                raise PluginError(
                    f"{label}: {attr} is named like a ccroute hook but is not marked with "
                    f"@ccroute.hookimpl, so it would never be called"
                )
            continue
        if opts.get("wrapper") or opts.get("hookwrapper"):
            raise PluginError(
                f"{label}: {attr} is a wrapper (wrapper=True or hookwrapper=True); ccroute "
                f"calls hook implementations one at a time to isolate faults, so wrappers "
                f"are not supported: write a plain implementation"
            )
    try:
        pm.register(plugin, name=name)
    except ValueError as error:
        # pluggy refuses the same object twice, or a second plugin under a taken name.
        raise PluginError(
            f"{label} is registered twice (or its name is taken by another plugin): {error}"
        ) from error
    except pluggy.PluginValidationError as error:
        raise PluginError(f"{label}: {error}") from error


def _is_routine(value: object) -> bool:
    return inspect.isroutine(value) or isinstance(value, (staticmethod, classmethod))


def _hook_names(pm: pluggy.PluginManager) -> list[str]:
    """Names of the hooks that have a spec."""
    return sorted(
        name
        for name, caller in vars(pm.hook).items()
        if isinstance(caller, pluggy.HookCaller) and caller.has_spec()
    )


def _check_pending(pm: pluggy.PluginManager) -> None:
    known = _hook_names(pm)
    # Registration order, so the first offending plugin is the one reported.
    for _, plugin in pm.list_name_plugin():
        for caller in pm.get_hookcallers(plugin) or ():
            if caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not impl.optionalhook:
                    close = difflib.get_close_matches(caller.name, known, n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise PluginError(
                        f"plugin {impl.plugin_name!r} implements {caller.name!r}, "
                        f"which is not a ccroute hook{hint}"
                    )
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as error:  # pragma: no cover - caught above
        raise PluginError(str(error)) from error


# ------------------------------------------------------------------ describing


@attrs.frozen(slots=True)
class _Origin:
    source: PluginSource
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None


# What make_plugin_manager knows of each plugin it registered, by manager.
_origins: weakref.WeakKeyDictionary[pluggy.PluginManager, dict[str, _Origin]] = (
    weakref.WeakKeyDictionary()
)


def _ccroute_version() -> str:
    from . import __version__

    return __version__


@attrs.frozen(slots=True)
class PluginInfo:
    """One loaded plugin, as :func:`describe_plugins` reports it.

    :param name: the name it is registered under (an entry point's name,
        ``"ccroute.default"`` for the built-in defaults, a module's or
        object's name for the application's plugins).
    :param source: ``"built-in"``, ``"entry point"`` or ``"application"``.
    :param distribution: the distribution that provides it (``"ccroute"``
        for the built-in defaults; ``None`` for the application's plugins).
    :param version: that distribution's version (``None`` when unknown).
    :param entry_point: the entry point's value (``"ccroute_email.plugin"``),
        for an entry-point plugin.
    :param hooks: the ccroute hooks it implements, sorted by name.
    """

    name: str
    source: PluginSource
    distribution: str | None
    version: str | None
    entry_point: str | None
    hooks: tuple[str, ...]

    @property
    def origin(self) -> str:
        """Where it comes from, for people: ``"built-in, ccroute 0.1.0"``,
        ``"ccroute-email 0.1.0, entry point ccroute_email.plugin"``, ``"application"``."""
        parts: list[str] = []
        if self.source != "entry point":
            parts.append(self.source)
        if self.distribution is not None:
            parts.append(" ".join(filter(None, (self.distribution, self.version))))
        if self.entry_point is not None:
            parts.append(f"entry point {self.entry_point}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (what ``ccroute plugins --json`` prints)."""
        return {
            "name": self.name,
            "source": self.source,
            "distribution": self.distribution,
            "version": self.version,
            "entry_point": self.entry_point,
            "hooks": list(self.hooks),
        }


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Every plugin registered with ``pm``, in registration order (the built-in
    defaults first, then entry-point plugins, then the application's).

    Plugins registered on ``pm`` by other means than :func:`make_plugin_manager`
    are reported as ``"application"`` plugins.
    """
    origins = _origins.get(pm, {})
    infos = []
    for name, plugin in pm.list_name_plugin():
        origin = origins.get(name, _Origin("application"))
        hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
        infos.append(
            PluginInfo(
                name=name,
                source=origin.source,
                distribution=origin.distribution,
                version=origin.version,
                entry_point=origin.entry_point,
                hooks=tuple(hooks),
            )
        )
    return infos


def log_plugins(pm: pluggy.PluginManager, logger: logging.Logger | None = None) -> None:
    """Log, at INFO, one line per plugin loaded into ``pm``: its name, where it
    comes from and the hooks it implements.

    :param logger: where to log; ``ccroute.plugins`` by default.
    """
    logger = logger if logger is not None else logging.getLogger(_LOGGER_NAME)
    if not logger.isEnabledFor(logging.INFO):
        return
    for info in describe_plugins(pm):
        logger.info(
            "plugin %r loaded (%s): %s",
            info.name,
            info.origin,
            ", ".join(info.hooks) or "no hooks",
        )


# --------------------------------------------------------------------- calling


@attrs.frozen(slots=True)
class FlowChoice:
    """The IVR flow :meth:`Hooks.ivr_flow` chose, and the plugin that chose it.

    :meth:`Hooks.run_flow` counts a failure of the flow against that plugin.

    :param flow: the flow to run.
    :param plugin: the name of the plugin whose ``ccroute_ivr_flow`` returned it.
    """

    flow: IvrFlow
    plugin: str


_Check = Callable[[Any], str | None]


def _check_none(value: object) -> str | None:
    return None if value is None else "expected None"


def _as_list(value: object) -> object:
    """Drain an iterable result (a generator runs plugin code) where the plugin runs."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        return value
    return list(value)


def _as_dict(value: object) -> object:
    return dict(value) if isinstance(value, Mapping) else value


def _check_channels(value: object) -> str | None:
    if isinstance(value, list) and all(isinstance(item, Channel) for item in value):
        return None
    return "expected an iterable of Channel"


def _check_strategies(value: object) -> str | None:
    if isinstance(value, dict) and all(
        isinstance(name, str) and callable(getattr(strategy, "score", None))
        for name, strategy in value.items()
    ):
        return None
    return "expected a mapping of names to objects with a score method"


def _check_storage(value: object) -> str | None:
    try:
        is_async_storage(value)
    except InvalidValueError as error:
        return f"expected a Storage or an AsyncStorage: {error}"
    return None


def _check_bool(value: object) -> str | None:
    return None if isinstance(value, bool) else "expected True, False or None"


def _check_flow(value: object) -> str | None:
    return None if callable(getattr(value, "run", None)) else "expected an IvrFlow"


def _as_profile(value: object) -> object:
    """A profile's own copy, made where the plugin runs (the plugin keeps its object)."""
    return copy_json(value) if isinstance(value, Mapping) else value


def _check_profile(value: object) -> str | None:
    if not isinstance(value, dict):
        return "expected a mapping"
    # The profile is logged with the contact, so it must be JSON data by the
    # rule the model and the log apply (ccroute._values.json_fault).
    try:
        check_json(value, "profile")
    except InvalidValueError as exc:
        return f"expected JSON data: {exc}"
    return None


def _as_history(value: object) -> object:
    """A history result as a tuple, made where the plugin runs (a generator runs plugin code)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        return value
    return tuple(value)


def _check_history(value: object) -> str | None:
    if isinstance(value, tuple) and all(isinstance(item, HistoryRecord) for item in value):
        return None
    return "expected a sequence of HistoryRecord"


def _check_result(value: object) -> str | None:
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        return "expected a mapping with string keys"
    try:
        check_json(value, "result")
    except InvalidValueError as exc:
        return f"expected JSON data: {exc}"
    return None


def _check_prediction(intents: Sequence[str]) -> _Check:
    def check(value: object) -> str | None:
        if not isinstance(value, IntentPrediction):
            return "expected an IntentPrediction"
        if value.intent not in intents:
            return f"expected one of the intents {', '.join(map(repr, intents))}"
        return None

    return check


def _check_same_contact(
    contact: Contact, usable: Callable[[Contact], str | None] | None = None
) -> _Check:
    def check(value: object) -> str | None:
        # Exactly a Contact: a subclass would run the plugin's code wherever
        # the service compares or copies it, and reads back from the log as a Contact.
        if type(value) is not Contact or value.id != contact.id:
            return f"expected a Contact with id {contact.id!r}"
        return None if usable is None else usable(value)

    return check


# The types of an attribute value that nobody can change in place.
_FLAT: Final = frozenset({str, int, float, bool, type(None)})


def _shared(attributes: Mapping[str, Any]) -> bool:
    """Whether a plugin could change ``attributes`` in place: a mapping that
    is not read-only, or a list or dict among its values (the router's own
    contact shares them)."""
    if not attributes:
        return False
    if type(attributes) is not _ReadOnlyMapping:
        return True
    return not _FLAT.issuperset(map(type, attributes._data.values()))


def _own(value: Any) -> Any:
    """``value`` as one hook implementation's own to read: what it holds that
    the router, the service or the next plugin also hold (a contact's
    attributes, a CRM profile) copied, when a plugin could change it in place.

    The values themselves are frozen, but the lists and dicts inside a
    contact's attributes are the router's: changed by a plugin, they would
    change the contact routed, shown and recorded without a log record (a
    restart from the log would then give them back as they were). Flat
    attributes, the usual case, are handed over as they are.
    """
    kind = type(value)
    if kind is Contact or kind is ContactView or kind is CustomerUpdate or kind is HistoryRecord:
        if _shared(value.attributes):
            return attrs.evolve(value, attributes=copy_json(value.attributes))
        return value
    if kind is OfferDelivery:
        contact = _own(value.contact)
        if contact is value.contact and not value.profile and not value.history:
            return value  # the usual offer: nothing another plugin could change
        return attrs.evolve(
            value,
            contact=contact,
            profile=copy_json(value.profile),
            history=tuple(_own(record) for record in value.history),
        )
    if kind is tuple and _has_profile(value):
        return tuple(
            attrs.evolve(e, profile=copy_json(e.profile))
            if type(e) is CustomerEnriched and e.profile
            else e
            for e in value
        )
    return value


def _has_profile(events: tuple[Any, ...]) -> bool:
    """Whether a batch holds a note with a CRM profile (a dict a plugin could change)."""
    if CustomerEnriched not in set(map(type, events)):
        return False  # the usual batch, told apart at C speed
    return any(type(e) is CustomerEnriched and e.profile for e in events)


_hook_thread_limiters: anyio.lowlevel.RunVar[dict[str, anyio.CapacityLimiter]] = (
    anyio.lowlevel.RunVar("ccroute_hook_thread_limiters")
)


def _thread_limiter(plugin: str) -> anyio.CapacityLimiter:
    """The limiter of ``plugin``'s threads in the running event loop (a limiter
    belongs to one loop)."""
    try:
        limiters = _hook_thread_limiters.get()
    except LookupError:
        limiters = {}
        _hook_thread_limiters.set(limiters)
    limiter = limiters.get(plugin)
    if limiter is None:
        limiter = limiters[plugin] = anyio.CapacityLimiter(HOOK_THREADS)
    return limiter


def _cancel_requested() -> bool:
    """Whether the calling task is really being cancelled: an enclosing cancel
    scope was cancelled or its deadline passed (both backends), or the asyncio
    task itself has a pending ``cancel()``.

    A cancellation exception that escapes a hook call while none of this holds
    was raised by the plugin itself, and is isolated like any other error.
    """
    deadline = anyio.current_effective_deadline()
    if deadline == -math.inf or deadline <= anyio.current_time():
        return True
    try:
        task = asyncio.current_task()
    except RuntimeError:  # not on asyncio: trio
        return False
    return task is not None and task.cancelling() > 0


def _is_cancellation(error: BaseException) -> bool:
    cancelled = anyio.get_cancelled_exc_class()
    if isinstance(error, cancelled):
        return True
    return isinstance(error, BaseExceptionGroup) and error.subgroup(cancelled) is not None


@attrs.frozen(slots=True)
class _Impl:
    """One hook implementation as :class:`Hooks` calls it."""

    plugin: str
    function: Callable[..., object]
    argnames: tuple[str, ...]
    is_async: bool


class _RaisedInThread(Exception):
    """A ``BaseException`` a plain implementation raised in its worker thread
    (``SystemExit``, ``KeyboardInterrupt``, ``GeneratorExit`` …), carried back
    as an ordinary exception: nothing in a worker thread is a cancellation,
    and on asyncio a ``GeneratorExit`` delivered to the waiting task would
    close its whole chain of coroutines instead of being raised in it."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


def _call_plain(
    function: Callable[..., object],
    args: Sequence[object],
    convert: Callable[[object], object] | None,
) -> object:
    try:
        result = function(*args)
        return convert(result) if convert is not None else result
    except Exception:
        raise
    except BaseException as error:
        raise _RaisedInThread(error) from None


async def _invoke(
    plugin: str,
    function: Callable[..., object],
    args: Sequence[object],
    convert: Callable[[object], object] | None,
    is_async: bool,
) -> object:
    if is_async:
        result = await function(*args)  # type: ignore[misc]
    else:
        # Abandoned on timeout: a hung thread runs on but no longer holds us up.
        result = await anyio.to_thread.run_sync(
            functools.partial(_call_plain, function, args, convert),
            abandon_on_cancel=True,
            limiter=_thread_limiter(plugin),
        )
    if inspect.isawaitable(result):
        # A plain callable handing back a coroutine (an object with an async __call__).
        result = await result
    return convert(result) if convert is not None else result


class Hooks:
    """The typed way core code calls ccroute's hooks.

    Every method calls each implementation of its hook by itself, in pluggy's
    call order (last registered first, ``tryfirst``/``trylast`` respected),
    passing only the arguments the implementation asks for. A plain function
    runs in a worker thread (at most :data:`HOOK_THREADS` at once per plugin
    and event loop, apart from anyio's default limiter), abandoned if it
    overruns; an ``async def`` is awaited in the event loop. Each call has
    ``timeout`` seconds. An implementation that raises (any exception, and
    every ``BaseException`` but a real cancellation of the caller:
    ``SystemExit``, ``KeyboardInterrupt``, ``GeneratorExit`` or a cancellation
    exception the plugin raised itself), runs past the timeout or returns a
    value of the wrong type is logged (logger ``ccroute.plugins``, at warning)
    and counted in :attr:`failures`, and the hook's documented fallback
    applies; the other implementations are called as if it were not there.
    Values handed to plugins are theirs to read only: an events batch is a
    tuple, and each call gets its own copy of a CRM profile.

    Works on asyncio and trio (through anyio).

    :param pm: the plugin manager, as :func:`make_plugin_manager` returns it.
    :param timeout: seconds each implementation call may take.
    :param logger: where failures are logged; ``ccroute.plugins`` by default.
    :raises InvalidValueError: when ``timeout`` is not a positive number.
    :raises PluginError: when a wrapper implementation is registered.
    """

    def __init__(
        self,
        pm: pluggy.PluginManager,
        *,
        timeout: float = 5.0,
        logger: logging.Logger | None = None,
    ) -> None:
        if not isinstance(timeout, (int, float)) or math.isnan(timeout) or timeout <= 0:
            raise InvalidValueError(f"hook timeout must be a positive number, got {timeout!r}")
        self._pm = pm
        #: Seconds each implementation call may take.
        self.timeout = float(timeout)
        #: Where failures are logged.
        self.logger = logger if logger is not None else logging.getLogger(_LOGGER_NAME)
        #: Failures so far, by (hook name, plugin name, kind); kind is one of
        #: ``"raised"``, ``"junk"`` and ``"timeout"``.
        self.failures: collections.Counter[tuple[str, str, str]] = collections.Counter()
        #: The latest exception each hook's implementations raised, by hook name
        #: (so a caller that needed the result can say why there is none).
        self.last_errors: dict[str, BaseException] = {}
        # Per hook: pluggy's implementations when last seen, and ours from them.
        self._cache: dict[str, tuple[list[pluggy.HookImpl], list[_Impl]]] = {}
        for name in _hook_names(pm):
            for impl in self._caller(name).get_hookimpls():
                if impl.wrapper or impl.hookwrapper:
                    raise PluginError(
                        f"plugin {impl.plugin_name!r}: {name} is a wrapper; ccroute calls "
                        f"hook implementations one at a time, so wrappers are not supported"
                    )

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        """The plugin manager whose hooks this calls."""
        return self._pm

    @property
    def total_failures(self) -> int:
        """How many implementation calls failed so far, of every hook and kind."""
        return self.failures.total()

    # ---------------------------------------------------------------- machinery

    def _caller(self, hook: str) -> pluggy.HookCaller:
        caller: pluggy.HookCaller = getattr(self._pm.hook, hook)
        return caller

    def _impls(self, hook: str) -> list[_Impl]:
        """Implementations in pluggy's call order (wrappers are refused at load time)."""
        current = self._caller(hook).get_hookimpls()
        cached = self._cache.get(hook)
        if cached is not None and cached[0] == current:
            return cached[1]
        impls = [
            _Impl(
                impl.plugin_name,
                impl.function,
                tuple(impl.argnames),
                inspect.iscoroutinefunction(impl.function),
            )
            for impl in reversed(current)
            if not (impl.wrapper or impl.hookwrapper)
        ]
        self._cache[hook] = (current, impls)
        return impls

    def has(self, hook: str) -> bool:
        """Whether any plugin implements ``hook`` (the service skips work nobody reads)."""
        return bool(self._impls(hook))

    def _fail(self, hook: str, plugin: str, kind: FailureKind, detail: object) -> None:
        self.failures[(hook, plugin, kind)] += 1
        if isinstance(detail, BaseException):
            self.last_errors[hook] = detail
        self.logger.warning(
            "hook %s: plugin %r %s: %s",
            hook,
            plugin,
            _KIND_TEXT[kind],
            detail,
            exc_info=detail if isinstance(detail, BaseException) else None,
        )

    def _junk(self, hook: str, plugin: str, value: object, problem: str) -> None:
        self._fail(hook, plugin, "junk", f"{_short_repr.repr(value)} ({problem})")

    async def _run(
        self,
        hook: str,
        plugin: str,
        function: Callable[..., object],
        args: Sequence[object],
        convert: Callable[[object], object] | None = None,
        is_async: bool | None = None,
        timeout: float | None = None,
    ) -> tuple[bool, Any]:
        """Call one implementation: ``(True, result)``, or ``(False, None)`` once
        its failure is logged and counted. ``timeout`` (seconds, at most
        :attr:`timeout`) shortens the call's time for a caller with a deadline
        of its own.

        Only a real cancellation of the caller passes (see
        :func:`_cancel_requested`); every other exception the call raises,
        ``BaseException`` included, is the plugin's failure.
        """
        if is_async is None:
            is_async = inspect.iscoroutinefunction(function)
        nesting = _hook_nesting.get()
        if nesting >= MAX_HOOK_NESTING:
            self._fail(
                hook,
                plugin,
                "raised",
                PluginError(
                    f"{hook} of plugin {plugin!r} not called: hook calls nested "
                    f"{nesting} deep (a plugin's hook calls back into the service, "
                    f"which calls hooks again)"
                ),
            )
            return False, None
        limit = self.timeout if timeout is None else min(timeout, self.timeout)
        result: object = None
        finished = False
        entered = _hook_nesting.set(nesting + 1)
        try:
            with anyio.move_on_after(limit):
                result = await _invoke(plugin, function, args, convert, is_async)
                finished = True
        except BaseException as error:
            if _is_cancellation(error) and _cancel_requested():
                raise  # the service is stopping: never swallowed
            if isinstance(error, _RaisedInThread):
                error = error.error
            self._fail(hook, plugin, "raised", error)
            return False, None
        finally:
            _hook_nesting.reset(entered)
        if not finished:
            self._fail(hook, plugin, "timeout", f"no result within {limit:g} s")
            return False, None
        return True, result

    async def _results(
        self,
        hook: str,
        kwargs: Mapping[str, object],
        check: _Check,
        convert: Callable[[object], object] | None = None,
        *,
        first: bool = False,
        impls: Iterable[_Impl] | None = None,
        timeout: float | None = None,
    ) -> list[tuple[str, Any]]:
        """Each valid non-None result with its plugin, in call order (only the
        first when ``first``); failures and junk are counted and skipped."""
        found: list[tuple[str, Any]] = []
        for impl in self._impls(hook) if impls is None else impls:
            # Each implementation reads its own copy of what others share.
            args = [_own(kwargs[name]) for name in impl.argnames]
            ok, value = await self._run(
                hook, impl.plugin, impl.function, args, convert, impl.is_async, timeout
            )
            if not ok or value is None:
                continue
            try:
                problem = check(value)
            except BaseException as error:
                # Looking at the value ran the plugin's code (an attribute, an
                # __eq__): what it raises is the value's fault, never a
                # cancellation (a plain call), and junk like any other.
                problem = f"checking it raised {type(error).__name__}: {error}"
            if problem is not None:
                self._junk(hook, impl.plugin, value, problem)
                continue
            found.append((impl.plugin, value))
            if first:
                break
        return found

    async def _collect(
        self,
        hook: str,
        kwargs: Mapping[str, object],
        check: _Check,
        convert: Callable[[object], object] | None = None,
    ) -> list[Any]:
        """Every valid non-None result, in call order."""
        return [value for _plugin, value in await self._results(hook, kwargs, check, convert)]

    async def _first(
        self,
        hook: str,
        kwargs: Mapping[str, object],
        check: _Check,
        convert: Callable[[object], object] | None = None,
        timeout: float | None = None,
    ) -> tuple[str, Any] | None:
        """The first valid non-None result and its plugin; a failure asks the next one."""
        found = await self._results(hook, kwargs, check, convert, first=True, timeout=timeout)
        return found[0] if found else None

    # -------------------------------------------------------------- providing

    async def channels(self) -> list[Channel]:
        """Call ``ccroute_channels``: the channels plugins add, one per name.

        Collected; where two plugins name the same channel the first in call
        order wins. A result that is not an iterable of channels is junk and
        ignored as a whole.
        """
        by_name: dict[str, Channel] = {}
        for result in await self._collect("ccroute_channels", {}, _check_channels, _as_list):
            for channel in result:
                by_name.setdefault(channel.name, channel)
        return list(by_name.values())

    async def agent_strategies(self) -> dict[str, AgentStrategy]:
        """Call ``ccroute_agent_strategies``: Python strategies by name.

        Collected; the first plugin in call order to provide a name wins. A
        result that is not a mapping of names to objects with a callable
        ``score`` is junk and ignored as a whole.
        """
        strategies: dict[str, AgentStrategy] = {}
        for result in await self._collect(
            "ccroute_agent_strategies", {}, _check_strategies, _as_dict
        ):
            for name, strategy in result.items():
                strategies.setdefault(name, strategy)
        return strategies

    async def storage(self, settings: Mapping[str, Any]) -> Storage | AsyncStorage | None:
        """Call ``ccroute_storage``: the first valid store, or ``None`` when none.

        A result that is not a :class:`~ccroute.storage.Storage` is junk and the
        next implementation is asked.
        """
        found = await self._first("ccroute_storage", {"settings": settings}, _check_storage)
        return None if found is None else found[1]

    # ------------------------------------------------------- channel adapters

    async def start_channel(self, service: ServiceHandle) -> None:
        """Call every ``ccroute_start_channel``; a failing adapter is skipped."""
        await self._collect("ccroute_start_channel", {"service": service}, _check_none)

    async def stop_channel(self, service: ServiceHandle) -> None:
        """Call every ``ccroute_stop_channel``; a failure does not stop the others."""
        await self._collect("ccroute_stop_channel", {"service": service}, _check_none)

    async def deliver_offer(self, delivery: OfferDelivery) -> bool:
        """Call ``ccroute_deliver_offer``: whether some adapter delivered the offer.

        First result: the first ``True`` or ``False`` returned. A result that
        is not a bool (or ``None``) is junk and the next adapter is asked.
        ``False`` when no adapter answered.
        """
        found = await self._first("ccroute_deliver_offer", {"delivery": delivery}, _check_bool)
        return False if found is None else bool(found[1])

    async def customer_update(self, update: CustomerUpdate) -> None:
        """Call every ``ccroute_customer_update``; failures are isolated."""
        await self._collect("ccroute_customer_update", {"update": update}, _check_none)

    # --------------------------------------------------------------------- IVR

    async def ivr_flow(self, contact: Contact) -> FlowChoice | None:
        """Call ``ccroute_ivr_flow``: the flow chosen for ``contact``, or ``None``.

        First result. A result without a callable ``run`` is junk and the next
        implementation is asked. ``None`` means the default flow: route the
        contact as submitted.
        """
        found = await self._first("ccroute_ivr_flow", {"contact": contact}, _check_flow)
        return None if found is None else FlowChoice(flow=found[1], plugin=found[0])

    async def run_flow(
        self,
        choice: FlowChoice,
        contact: Contact,
        usable: Callable[[Contact], str | None] | None = None,
    ) -> Contact | None:
        """Run the chosen flow: the contact to route, or ``None`` for self-service.

        ``choice.flow.run(contact)`` runs like a hook implementation (plain in a
        thread, ``async`` awaited, with the timeout). When it raises, times out
        or returns anything but ``None`` or a :class:`~ccroute.Contact` with
        the same id (and, given ``usable``, one for which ``usable`` names no
        problem: the service refuses a queue or channel its router does not
        know), the failure is counted under hook ``ccroute_ivr_flow`` and the
        choosing plugin, and the original ``contact`` is returned (the default
        flow).
        """
        routed, _failed = await self.run_flow_outcome(choice, contact, usable)
        return routed

    async def run_flow_outcome(
        self,
        choice: FlowChoice,
        contact: Contact,
        usable: Callable[[Contact], str | None] | None = None,
    ) -> tuple[Contact | None, bool]:
        """:meth:`run_flow`, and whether the flow failed (so the default flow ran).

        Whether *this* run failed, which the failure counters cannot tell
        while other calls run at the same time.
        """
        hook = "ccroute_ivr_flow"
        try:
            run: Callable[..., object] = choice.flow.run
        except BaseException as error:  # a plain lookup: no cancellation arrives here
            self._fail(hook, choice.plugin, "raised", error)
            return contact, True
        ok, value = await self._run(hook, choice.plugin, run, [_own(contact)])
        if not ok:
            return contact, True
        if value is None:
            return None, False
        problem = _check_same_contact(contact, usable)(value)
        if problem is not None:
            self._junk(hook, choice.plugin, value, problem)
            return contact, True
        routed: Contact = value
        return routed, False

    async def predict_intent(
        self, text: str, intents: Sequence[str], contact: Contact
    ) -> IntentPrediction | None:
        """Call ``ccroute_predict_intent``: the first valid prediction, or ``None``.

        A result that is not an :class:`~ccroute.ivr.IntentPrediction` of one
        of ``intents`` is junk and the next implementation is asked. ``None``
        (no plugin knows, or every one failed): the caller uses its default
        matcher.
        """
        wanted = tuple(intents)
        found = await self._first(
            "ccroute_predict_intent",
            {"text": text, "intents": wanted, "contact": contact},
            _check_prediction(wanted),
        )
        return None if found is None else found[1]

    async def self_service(
        self,
        action: str,
        arguments: Mapping[str, Any],
        contact: Contact,
        *,
        timeout: float | None = None,
    ) -> dict[str, Any] | None:
        """Call ``ccroute_self_service``: the first valid result of ``action``, or ``None``.

        The implementations get ``arguments`` read-only (raw: sensitive values
        included; this is the one hook that sees them). A result that is not a
        mapping of JSON data (string keys) is junk and the next implementation
        is asked; the result is a copy made where the plugin ran. ``None`` (no
        plugin runs the action, or every one failed): the action failed.
        ``timeout`` shortens each call's time (the action's own deadline), never
        past :attr:`timeout`.
        """
        found = await self._first(
            "ccroute_self_service",
            {"action": action, "arguments": MappingProxyType(dict(arguments)), "contact": contact},
            _check_result,
            _as_profile,
            timeout,
        )
        return None if found is None else found[1]

    # --------------------------------------------------------------------- CRM

    async def crm_lookup(self, customer_id: str) -> dict[str, Any]:
        """Call ``ccroute_crm_lookup``: the first valid profile, or an empty dict.

        A result that is not a mapping of JSON data (string keys; strings,
        numbers, booleans, ``None``, lists and mappings of them: the profile
        is logged) is junk and the next implementation is asked. The profile
        returned is a copy, made where the plugin ran.
        """
        found = await self._first(
            "ccroute_crm_lookup", {"customer_id": customer_id}, _check_profile, _as_profile
        )
        return {} if found is None else found[1]

    async def crm_enrich(
        self,
        contact: Contact,
        profile: Mapping[str, Any],
        usable: Callable[[Contact], str | None] | None = None,
    ) -> Contact:
        """Call ``ccroute_crm_enrich``: the first valid enriched contact.

        A result that is not a :class:`~ccroute.Contact` with ``contact``'s id
        (or, given ``usable``, one for which ``usable`` names a problem) is
        junk and the next implementation is asked; without a valid result,
        ``contact`` unchanged. Each implementation gets its own copy of
        ``profile``.
        """
        check = _check_same_contact(contact, usable)
        for impl in self._impls("ccroute_crm_enrich"):
            kwargs = {"contact": contact, "profile": copy_json(profile)}
            found = await self._results("ccroute_crm_enrich", kwargs, check, impls=[impl])
            if found:
                enriched: Contact = found[0][1]
                return enriched
        return contact

    async def crm_history(self, customer_id: str) -> tuple[HistoryRecord, ...]:
        """Call ``ccroute_crm_history``: the first valid history, or an empty tuple.

        A result that is not a sequence of :class:`~ccroute.HistoryRecord` is
        junk and the next implementation is asked.
        """
        found = await self._first(
            "ccroute_crm_history", {"customer_id": customer_id}, _check_history, _as_history
        )
        return () if found is None else found[1]

    async def crm_record(self, record: HistoryRecord) -> None:
        """Call every ``ccroute_crm_record``; failures are isolated, not retried."""
        await self._collect("ccroute_crm_record", {"record": record}, _check_none)

    # --------------------------------------------------------------- observers

    async def events(self, events: Sequence[Event]) -> None:
        """Call every ``ccroute_events`` with one durable batch; failures are isolated.

        The batch is handed over as a tuple, so no implementation can change
        what the next one (or the service) sees.
        """
        await self._collect("ccroute_events", {"events": tuple(events)}, _check_none)

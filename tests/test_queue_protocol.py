"""The queue backend's typed interface: the compiled twin's stub, and the Protocol.

``src/ccroute/_fastqueue.pyi`` is what mypy knows of the compiled twin, and
``ccroute._queue_protocol`` checks it (and the pure twin) against
:class:`~ccroute._queue_protocol.QueueBackend`. A stub that drifted from the
``.pyx`` would make that check vouch for methods that do not exist, so these
tests hold the stub to the compiled module, name by name and signature by
signature, and to the pure twin's public methods. The brute-force reference
(tests/reference.py) is checked against the Protocol by mypy itself: pyproject
lists it among the files mypy checks, and CI runs mypy.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import pytest
from implementations import COMPILED_EXPECTED, FASTQUEUE_ERROR

from ccroute import _queue_protocol, _queue_py

try:
    from ccroute import _fastqueue
except ImportError:
    _fastqueue = None  # type: ignore[assignment]

SRC = Path(_queue_py.__file__).resolve().parent
STUB = SRC / "_fastqueue.pyi"
TESTS = Path(__file__).resolve().parent

# A stub parameter: (name, kind, default or _NO_DEFAULT).
_NO_DEFAULT = object()
Param = tuple[str, inspect._ParameterKind, object]


def _stub_params(fn: ast.FunctionDef) -> list[Param]:
    args = fn.args
    out: list[Param] = []
    positional = args.posonlyargs + args.args
    defaults = [_NO_DEFAULT] * (len(positional) - len(args.defaults)) + [
        ast.literal_eval(d) for d in args.defaults
    ]
    for i, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = (
            inspect.Parameter.POSITIONAL_ONLY
            if i < len(args.posonlyargs)
            else inspect.Parameter.POSITIONAL_OR_KEYWORD
        )
        out.append((arg.arg, kind, default))
    if args.vararg is not None:
        out.append((args.vararg.arg, inspect.Parameter.VAR_POSITIONAL, _NO_DEFAULT))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        value = _NO_DEFAULT if kw_default is None else ast.literal_eval(kw_default)
        out.append((arg.arg, inspect.Parameter.KEYWORD_ONLY, value))
    if args.kwarg is not None:
        out.append((args.kwarg.arg, inspect.Parameter.VAR_KEYWORD, _NO_DEFAULT))
    return out


def _runtime_params(fn: Any) -> list[Param]:
    return [
        (
            p.name,
            p.kind,
            _NO_DEFAULT if p.default is inspect.Parameter.empty else p.default,
        )
        for p in inspect.signature(fn).parameters.values()
    ]


class _Stub:
    """What the stub declares: module names, and the class's members."""

    def __init__(self, path: Path) -> None:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        self.all: list[str] = []
        self.names: set[str] = set()
        self.methods: dict[str, ast.FunctionDef] = {}
        self.properties: dict[str, set[str]] = {}  # name -> {"getter", "setter"}
        for node in tree.body:
            if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [
                "__all__"
            ]:
                self.all = ast.literal_eval(node.value)
            elif isinstance(node, ast.ClassDef):
                self.names.add(node.name)
                assert node.name == "UniversalQueue", node.name
                for member in node.body:
                    assert isinstance(member, ast.FunctionDef), ast.dump(member)
                    kinds = {ast.unparse(d) for d in member.decorator_list}
                    if "property" in kinds:
                        self.properties.setdefault(member.name, set()).add("getter")
                    elif f"{member.name}.setter" in kinds:
                        self.properties.setdefault(member.name, set()).add("setter")
                    else:
                        assert not kinds, (member.name, kinds)
                        self.methods[member.name] = member
            elif isinstance(node, ast.FunctionDef | ast.AnnAssign):
                name = node.name if isinstance(node, ast.FunctionDef) else ast.unparse(node.target)
                self.names.add(name)

    @property
    def members(self) -> set[str]:
        return set(self.methods) | set(self.properties)


STUB_DECLARED = _Stub(STUB)


def _compiled() -> Any:
    if _fastqueue is None:
        if COMPILED_EXPECTED:
            pytest.fail(f"the compiled queue was expected but did not load: {FASTQUEUE_ERROR}")
        pytest.skip("CCROUTE_PURE_PYTHON=1 and the compiled queue is not built")
    return _fastqueue


def _public_members(cls: type) -> set[str]:
    """Methods and properties a caller may use: public names and the protocol dunders."""
    return {
        name
        for name in dir(cls)
        if (not name.startswith("_") or name in ("__init__", "__len__", "__contains__"))
        and name not in dir(object)
    } | {"__init__"}


def test_the_stub_names_what_the_compiled_module_defines() -> None:
    module = _compiled()
    assert STUB_DECLARED.all == list(module.__all__)
    # The module's own public names (not names it imported for its own use,
    # such as the shared check functions) are all in the stub, and back.
    own = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    }
    assert own == STUB_DECLARED.names
    for name in STUB_DECLARED.names:
        assert hasattr(module, name), name


def test_the_stub_has_every_member_of_the_compiled_class_and_no_other() -> None:
    cls = _compiled().UniversalQueue
    assert _public_members(cls) == STUB_DECLARED.members
    for name, kinds in STUB_DECLARED.properties.items():
        attribute = inspect.getattr_static(cls, name)
        assert inspect.isdatadescriptor(attribute), name
        assert kinds == {"getter", "setter"}, name
        queue = cls()
        setattr(queue, name, getattr(queue, name))  # settable, as the stub says


def test_the_stub_signatures_are_the_compiled_signatures() -> None:
    cls = _compiled().UniversalQueue
    for name, node in STUB_DECLARED.methods.items():
        if name == "__init__":
            # cdef classes take their arguments in __cinit__; the signature
            # shown is the generic one, and the stub mirrors __init__'s.
            continue
        try:
            runtime = _runtime_params(getattr(cls, name))
        except (TypeError, ValueError):
            continue  # a slot wrapper (__len__, __contains__): not introspectable
        assert _stub_params(node) == runtime, name


def test_the_stub_matches_the_pure_twin_too() -> None:
    # Both twins implement one interface: the stub describes both.
    cls = _queue_py.UniversalQueue
    assert _public_members(cls) == STUB_DECLARED.members
    for name, node in STUB_DECLARED.methods.items():
        assert _stub_params(node) == _runtime_params(getattr(cls, name)), name


def test_the_protocol_lists_only_methods_every_twin_has() -> None:
    members = {
        name
        for name, value in vars(_queue_protocol.QueueBackend).items()
        if callable(value) and (not name.startswith("_") or name == "__len__")
    }
    assert members <= STUB_DECLARED.members
    assert members <= _public_members(_queue_py.UniversalQueue)
    # The Protocol lists only what the router (or one of its policy modules,
    # which ask the queue on its behalf) calls.
    sources = [SRC / "core" / "router.py", *sorted((SRC / "core" / "policies").glob("*.py"))]
    router_source = "\n".join(p.read_text(encoding="utf-8") for p in sources)
    for name in members - {"__len__"}:
        assert f".{name}(" in router_source, f"the router never calls {name}"

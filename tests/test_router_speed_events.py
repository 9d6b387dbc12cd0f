"""The router's fast event builders make exactly the objects the constructors make."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from ccroute import events
from ccroute.events import (
    Accepted,
    Completed,
    Event,
    Offered,
    OfferReason,
    Queued,
    WrapUpEnded,
    _builder,
)

REASON = OfferReason("longest idle", "contact", 3, 12.5, 4.0, 0, ("excluded",))

CASES: list[tuple[type[Event], Callable[..., Event], tuple[Any, ...]]] = [
    (Queued, events._build_queued, (1.5, "c1", "sales", "voice")),
    (Offered, events._build_offered, (2.0, "c1", "a1", "sales", "voice", 32.0, REASON)),
    (Offered, events._build_offered, (2.0, "c1", "a1", "sales", "voice", None, None)),
    (Accepted, events._build_accepted, (3.0, "c1", "a1", "sales", "voice", 1.0)),
    (Completed, events._build_completed, (9.0, "c1", "a1", "sales", "voice", 6.0, None)),
    (Completed, events._build_completed, (9.0, "c1", "a1", "sales", "voice", 6.0, "sale")),
    (WrapUpEnded, events._build_wrap_up_ended, (9.5, "c1", "a1", "sales", "voice", 0.5, None)),
    (WrapUpEnded, events._build_wrap_up_ended, (9.5, "c1", "a1", "sales", "voice", 0.5, "sale")),
]


@pytest.mark.parametrize(("cls", "build", "args"), CASES)
def test_builder_matches_constructor(
    cls: type[Event], build: Callable[..., Event], args: tuple[Any, ...]
) -> None:
    made, built = cls(*args), build(*args)
    assert type(built) is cls
    assert built == made
    assert made == built
    assert hash(built) == hash(made)
    assert repr(built) == repr(made)
    assert attrs.asdict(built) == attrs.asdict(made)
    assert pickle.loads(pickle.dumps(built)) == made
    assert copy.deepcopy(built) == made
    assert attrs.evolve(built, at=99.0) == attrs.evolve(made, at=99.0)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.at = 0.0  # type: ignore[misc]
    assert not hasattr(built, "__dict__")


def test_builder_refuses_classes_it_cannot_build() -> None:
    @attrs.frozen(slots=True)
    class Checked:
        value: int = attrs.field(validator=attrs.validators.instance_of(int))

    @attrs.frozen(slots=False)
    class NoSlots:
        value: int

    @attrs.frozen(slots=True)
    class Hooked:
        value: int

        def __attrs_post_init__(self) -> None:
            pass

    for cls in (Checked, NoSlots, Hooked):
        with pytest.raises(TypeError):
            _builder(cls)

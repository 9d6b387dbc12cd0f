"""The log format's codec beside cattrs and the old pickle: encode, decode, both; per record.

    .venv/bin/python benchmarks/bench_codec.py [--rounds 15] [--number 2000] [--profile]
        [--json PATH]

Five records as the service logs them: a ``submit`` of a typical contact
(requirements, priority, customer, two attributes) with its ``Queued`` and
``Offered`` (offer reason included) events; an ``accept`` with ``Accepted``;
a ``tick`` with an offer time-out, a presence change and a routing step; a
``note`` with a flow and a CRM event; an ``add_queues`` of two queue configs.
Three ways to write them, each reading back equal values:

``codec (msgspec)``
    :func:`ccroute.codec.encode_record` / :func:`~ccroute.codec.decode_record`:
    the log format, JSON; decoding checks every field's type (msgspec, in C)
    and rebuilds the values through their constructors and validators.
``cattrs + json``
    a cattrs converter (tagged union of the events, snake-case tags) making
    the same JSON document with the standard library's :mod:`json`; cattrs
    structures through the constructors too.
``pickle (format 1)``
    ``pickle.dumps((at, command, events), protocol=5)`` and ``pickle.loads``,
    what format 1 stored: no validation, and loading can run code.

Each figure is the median over ``--rounds`` rounds of ``--number`` calls,
rounds interleaved (round 1 of every case, then round 2 ...), the cyclic
garbage collector off while timing. Two breakdown rows show where the codec's
decode time goes: msgspec's typed parse alone (no constructors), and the
``Contact`` constructor alone. ``--profile`` prints cProfile's top functions
for 20,000 encode+decode round trips of the submit record.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pickle
import platform
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Union

import msgspec
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.preconf.json import make_converter
from cattrs.strategies import configure_tagged_union

sys.path.insert(0, str(Path(__file__).parent))

from tables import print_table

import ccroute
from ccroute import codec
from ccroute.commands import COMMANDS, Accept, AddQueues, Note, Submit, Tick
from ccroute.events import (
    Accepted,
    CustomerEnriched,
    FlowFinished,
    Offered,
    OfferReason,
    OfferTimedOut,
    PresenceChanged,
    Queued,
    StepApplied,
)
from ccroute.model import Contact, Presence, QueueConfig, RoutingStep, Strategy
from ccroute.storage import LogRecord

AT = 1_700_000_123.25


def submit_record(seq: int = 1) -> LogRecord:
    """A submit as the service logs it: a typical contact and the two events it caused."""
    contact_id = f"c{seq:09d}"
    contact = Contact(
        contact_id,
        "voice",
        "support",
        requirements={"english": 5, "billing": 3},
        priority_seconds=30.0,
        customer_id=f"cust{seq % 50_000:06d}",
        attributes={"ivr_path": "1-3-2", "language": "en"},
    )
    return LogRecord(
        seq,
        AT,
        Submit(contact),
        (
            Queued(AT, contact_id, "support", "voice"),
            Offered(
                AT,
                contact_id,
                f"a{seq % 400:04d}",
                "support",
                "voice",
                AT + 20.0,
                OfferReason("longest-idle", "contact", 12, 184.5, 170.25, 0, ()),
            ),
        ),
    )


RECORDS: dict[str, LogRecord] = {
    "submit (contact + 2 events)": submit_record(),
    "accept (1 event)": LogRecord(
        2,
        AT,
        Accept("c000000001", "a0001"),
        (Accepted(AT, "c000000001", "a0001", "support", "voice", 4.5),),
    ),
    "tick (3 events)": LogRecord(
        3,
        AT,
        Tick(),
        (
            OfferTimedOut(AT, "c000000002", "a0002"),
            PresenceChanged(AT, "a0002", Presence.AVAILABLE, Presence.NOT_READY, "rona"),
            StepApplied(AT, "c000000003", "support", 0, (("english", 3),), frozenset({"sales"})),
        ),
    ),
    "note (2 events)": LogRecord(
        4,
        AT,
        Note(),
        (
            FlowFinished(AT, "c000000004", "ivr-main", "routed"),
            CustomerEnriched(AT, "c000000004", "cust000004", True, False),
        ),
    ),
    "add_queues (2 configs)": LogRecord(
        5,
        AT,
        AddQueues(
            (
                QueueConfig(
                    "support",
                    Strategy.MOST_SKILLED,
                    steps=(RoutingStep(30.0, {"billing": None}, {"sales"}),),
                    max_wait=600.0,
                    overflow="sales",
                ),
                QueueConfig("sales", "vip-first", blocking={"voice": {"chat"}}),
            )
        ),
    ),
}


# -- the three ways -----------------------------------------------------------------


def codec_way() -> tuple[Callable[[LogRecord], Any], Callable[[LogRecord, Any], LogRecord]]:
    """The log format."""

    def encode(record: LogRecord) -> bytes:
        return codec.encode_record(record)

    def decode(record: LogRecord, data: Any) -> LogRecord:
        return codec.decode_record(record.seq, record.at, record.command.name, data)

    return encode, decode


def cattrs_way() -> tuple[Callable[[LogRecord], Any], Callable[[LogRecord, Any], LogRecord]]:
    """A cattrs converter writing the same document with the standard json module."""
    converter = make_converter()  # cattrs' JSON preset: sets become lists
    events = Union[tuple(codec.EVENT_TAGS.values())]  # type: ignore[valid-type]  # noqa: UP007
    configure_tagged_union(
        events, converter, tag_generator=lambda cls: codec.snake_case(cls.__name__)
    )

    def strategy_out(value: Strategy | str) -> Any:
        return value.value if isinstance(value, Strategy) else {"custom": value}

    def strategy_in(value: Any, _: Any) -> Strategy | str:
        return value["custom"] if isinstance(value, dict) else Strategy(value)

    converter.register_unstructure_hook(
        QueueConfig,
        make_dict_unstructure_fn(
            QueueConfig, converter, strategy=override(unstruct_hook=strategy_out)
        ),
    )
    converter.register_structure_hook(
        QueueConfig,
        make_dict_structure_fn(QueueConfig, converter, strategy=override(struct_hook=strategy_in)),
    )
    unstructure, structure = converter.unstructure, converter.structure
    dumps, loads = json.dumps, json.loads

    def encode(record: LogRecord) -> str:
        return dumps(
            {
                "command": unstructure(record.command),
                "events": [unstructure(e, unstructure_as=events) for e in record.events],
            },
            separators=(",", ":"),
        )

    def decode(record: LogRecord, data: Any) -> LogRecord:
        body = loads(data)
        name = record.command.name
        return LogRecord(
            record.seq,
            record.at,
            structure(body["command"], COMMANDS[name]),
            tuple([structure(e, events) for e in body["events"]]),
        )

    return encode, decode


def pickle_way() -> tuple[Callable[[LogRecord], Any], Callable[[LogRecord, Any], LogRecord]]:
    """Format 1: the record's fields pickled."""
    dumps, loads = pickle.dumps, pickle.loads

    def encode(record: LogRecord) -> bytes:
        return dumps((record.at, record.command, record.events), protocol=5)

    def decode(record: LogRecord, data: Any) -> LogRecord:
        at, command, events = loads(data)
        return LogRecord(record.seq, at, command, events)

    return encode, decode


WAYS = {
    "codec (msgspec)": codec_way(),
    "cattrs + json": cattrs_way(),
    "pickle (format 1)": pickle_way(),
}


# -- measuring ----------------------------------------------------------------------


def per_call(function: Callable[[], Any], number: int) -> float:
    """Microseconds per call of ``function``, over ``number`` calls, gc off."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        for _ in range(number):
            function()
        return (time.perf_counter() - started) / number * 1e6
    finally:
        gc.enable()


def cases(number: int) -> dict[tuple[str, str, str], Callable[[], float]]:
    """``(record, way, what)`` -> one timed round."""
    out: dict[tuple[str, str, str], Callable[[], float]] = {}
    for label, record in RECORDS.items():
        for way, (encode, decode) in WAYS.items():
            data = encode(record)
            back = decode(record, data)
            if back != record or repr(back) != repr(record):
                raise SystemExit(f"{way} does not give {label} back: {back!r}")

            def both(encode: Any = encode, decode: Any = decode, record: Any = record) -> Any:
                return decode(record, encode(record))

            out[(label, way, "encode")] = lambda e=encode, r=record: per_call(lambda: e(r), number)
            out[(label, way, "decode")] = lambda d=decode, r=record, b=data: per_call(
                lambda: d(r, b), number
            )
            out[(label, way, "both")] = lambda f=both: per_call(f, number)
    # Where the codec's decode time goes, for the submit record.
    submit = RECORDS["submit (contact + 2 events)"]
    body = codec.encode_record(submit)
    parse = codec._body_decoders["submit"].decode  # msgspec alone: typed parse, no constructors
    contact = submit.command.contact  # type: ignore[attr-defined]
    fields = {
        "requirements": dict(contact.requirements),
        "priority_seconds": contact.priority_seconds,
        "customer_id": contact.customer_id,
        "attributes": dict(contact.attributes),
    }
    out[("submit: msgspec typed parse only", "", "decode")] = lambda: per_call(
        lambda: parse(body), number
    )
    out[("submit: Contact(...) constructor only", "", "decode")] = lambda: per_call(
        lambda: Contact(contact.id, "voice", "support", **fields), number
    )
    out[("submit: encode_row (record + check + crc)", "", "encode")] = lambda: per_call(
        lambda: codec.encode_row(submit), number
    )
    row = codec.encode_row(submit)
    out[("submit: decode_row (crc + record + columns)", "", "decode")] = lambda: per_call(
        lambda: codec.decode_row(row), number
    )
    # How fast the machine ran: scale the other figures by this one to compare runs.
    out[("reference: sum(range(1000)), no ccroute", "", "calibration")] = lambda: per_call(
        lambda: sum(range(1000)), max(1, number // 10)
    )
    return out


def profile() -> None:
    """cProfile's top functions for 20,000 encode+decode round trips of the submit record."""
    record = RECORDS["submit (contact + 2 events)"]
    encode, decode = WAYS["codec (msgspec)"]
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(20_000):
        decode(record, encode(record))
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=2000, help="calls per round")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    timed = cases(args.number)
    figures: dict[tuple[str, str, str], list[float]] = {key: [] for key in timed}
    keys = list(timed)
    for r in range(args.rounds):
        shift = (r * 7) % len(keys)
        for key in keys[shift:] + keys[:shift]:
            figures[key].append(timed[key]())
    median = {key: statistics.median(values) for key, values in figures.items()}

    print("# The log format's codec beside cattrs and pickle (µs per record, medians)")
    print()
    print(
        f"- {platform.platform()}; {platform.python_implementation()} "
        f"{platform.python_version()}; ccroute {ccroute.__version__} ({ccroute.IMPLEMENTATION})"
    )
    print(
        f"- {args.rounds} interleaved rounds of {args.number} calls; "
        f"msgspec {msgspec.__version__}, cattrs {_version('cattrs')}; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    print()
    rows = []
    for label, record in RECORDS.items():
        for way in WAYS:
            size = len(WAYS[way][0](record))
            rows.append(
                [
                    label if way == next(iter(WAYS)) else "",
                    way,
                    f"{median[(label, way, 'encode')]:.2f}",
                    f"{median[(label, way, 'decode')]:.2f}",
                    f"{median[(label, way, 'both')]:.2f}",
                    f"{size}",
                ]
            )
    print_table(["record", "way", "encode", "decode", "encode+decode", "bytes"], rows)
    print()
    print("Where the codec's time goes (submit record):")
    print()
    print_table(
        ["part", "µs"],
        [[label, f"{median[(label, way, what)]:.2f}"] for (label, way, what) in keys if not way],
    )
    if args.profile:
        print()
        profile()
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {" / ".join(key): {"median": median[key], "rounds": figures[key]} for key in keys},
                indent=2,
            )
            + "\n"
        )
    return 0


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    sys.exit(main())

"""Write the golden files of the current log format. Run by a person, never by the tests.

    .venv/bin/python tests/golden/make_golden.py [--snapshot FILE]

It writes, under ``tests/golden/v<FORMAT>/`` (``FORMAT`` is
:data:`ccroute.codec.FORMAT`):

``log.db``
    an SQLite log written by :class:`ccroute.SQLiteStorage`: the records of
    ``records.py`` beside it (every command and every event class), in three
    appends, and a snapshot after record ``records.SNAPSHOT_SEQ``.
``records.jsonl``
    the log's rows, one JSON object a line, the body as written.
``snapshot.json``
    the snapshot's bytes as stored: :meth:`ccroute.Router.snapshot` of a small
    router (two queues, two agents, a contact offered), or ``--snapshot FILE``.

tests/test_golden.py reads these files with the current code. They are
written once per format and committed; a directory that exists is never
written again (the script refuses): a later format change adds a new
directory and keeps the old ones, so every release proves it still reads
every format it claims to.

Format 2's files were written from the sources of commit b15212c (format 2
complete, with the ``update_*`` commands, before any release wrote it), with
``--snapshot`` a router snapshot of that day (a JSON document): the store
keeps snapshot bytes as given, so the file checks the store, not the router.

Format 3's files were written from the sources of commit 776ffe6 (the merge
of business hours, scheduled callbacks, dispositions, the estimated wait and
masking) with the format raised to 3, and the default router snapshot.

Format 4's files were written on the ``ivr`` branch (callers in a flow kept
across a crash: the ``flow_started`` and ``flow_advanced`` notes), with the
default router snapshot.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import msgspec

from ccroute import Agent, Contact, ManualClock, Presence, QueueConfig, Router, SQLiteStorage
from ccroute.codec import FORMAT, encode_row

HERE = Path(__file__).resolve().parent


def router_snapshot() -> bytes:
    """A small router's snapshot."""
    router = Router(ManualClock(1_700_000_000.0))
    router.add_queues([QueueConfig("sales"), QueueConfig("support", offer_timeout=None)])
    router.add_agent(Agent("ann", skills={"en": 8}, queues=("sales",)), Presence.AVAILABLE)
    router.add_agent(Agent("bob", queues=("sales", "support")))
    router.submit(Contact("c-1", "voice", "sales", requirements={"en": 5}))
    return router.snapshot()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--snapshot", type=Path, help="the snapshot's bytes (default: a router's)")
    args = parser.parse_args()
    directory = HERE / f"v{FORMAT}"
    sys.path.insert(0, str(directory))
    from records import RECORDS, SNAPSHOT_SEQ  # the format's golden records

    outputs = [directory / name for name in ("log.db", "records.jsonl", "snapshot.json")]
    if any(path.exists() for path in outputs):
        raise SystemExit(f"{directory} already has golden files; they are never rewritten")
    state = args.snapshot.read_bytes() if args.snapshot else router_snapshot()
    path = directory / "log.db"
    with SQLiteStorage(path, retention=None) as store:
        store.append(RECORDS[:SNAPSHOT_SEQ])
        store.snapshot(SNAPSHOT_SEQ, state)
        store.append(RECORDS[SNAPSHOT_SEQ:20])
        store.append(RECORDS[20:])
    Path(f"{path}.lock").unlink()
    lines = []
    for record in RECORDS:
        row = encode_row(record)
        columns = msgspec.json.encode({k: v for k, v in row._asdict().items() if k != "body"})
        lines.append(columns[:-1].decode() + ',"body":' + row.body + "}\n")
    (directory / "records.jsonl").write_text("".join(lines), encoding="utf-8")
    (directory / "snapshot.json").write_bytes(state)
    print(f"wrote {', '.join(str(p) for p in outputs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

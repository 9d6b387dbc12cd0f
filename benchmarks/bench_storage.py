"""The SQLite event log: raw sqlite3 commits beside SQLiteStorage.append, and load time.

    .venv/bin/python benchmarks/bench_storage.py [--records N] [--rounds R]
        [--seconds S] [--dir DIR] [--json PATH]

Everything runs in one process on a fresh temporary directory (under
``--dir``, default the system's temporary directory: say where the disk is),
in WAL journal mode, with ``synchronous=FULL`` (every commit synced to disk
before it returns) and ``NORMAL`` (synced at checkpoints only; survives a
crash of the process). Every figure is the median of ``--rounds`` rounds
(default 3); rounds are interleaved (round 1 of every case, then round 2 ...)
and each round starts from a fresh database. Inputs are built before timing;
a timed section is only the calls measured, with ``time.perf_counter`` after
``gc.collect()`` and with the cyclic garbage collector disabled.

Table 1, raw sqlite3: what the disk and SQLite allow. Rows already encoded as
the store writes them (the log table of format 2, a ~700-byte JSON body), 1,
10, 100 or 1000 rows per transaction (``BEGIN IMMEDIATE``, ``executemany``,
``COMMIT``). Each round commits for about ``--seconds`` seconds (default 1).
Figure: rows per second.

Table 2, ``SQLiteStorage.append``: records as the service logs them, a
``submit`` of a :class:`~ccroute.Contact` that caused a ``Queued`` and an
``Offered`` event (offer reason included), appended in batches of 1, 10, 100
and 1000 records, one call per batch (one commit: the group commit); the
store encodes each record (:func:`ccroute.codec.encode_row`). Each round
appends for about ``--seconds`` seconds of time inside ``append``. Figures:
records and events per second.

Table 3, ``SQLiteStorage.load``: a log of ``--records`` such records
(default 1,000,000; built untimed with ``synchronous=OFF`` in batches of
1000) and no snapshot, so every record is read, checked (checksum, key
columns) and decoded through the constructors. Each round opens the file
afresh (the operating system's page cache is warm) and times ``load()``
alone. Beside it, in the same run: the same records stored as format 1 stored
them (a pickle per row) and read as the old store read them (crc32 and
``pickle.loads``, no other check), so the two compare on one machine state.
Figures: seconds, records per second, file size.

At the default size the run takes several minutes, most of it building and
loading the log. Run nothing else meanwhile.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tables import print_table

import ccroute
from ccroute import Contact, LogRecord, Offered, Queued, SQLiteStorage
from ccroute.codec import encode_row
from ccroute.commands import Submit
from ccroute.events import OfferReason

RAW_ROWS_PER_COMMIT = (1, 10, 100, 1000)
APPEND_BATCHES = (1, 10, 100, 1000)
SYNC_MODES = ("FULL", "NORMAL")
EVENTS_PER_RECORD = 2


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--records", type=int, default=1_000_000, help="records in the log that is loaded"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per figure (median)")
    parser.add_argument(
        "--seconds", type=float, default=1.0, help="time per round of tables 1 and 2"
    )
    parser.add_argument("--dir", type=Path, default=None, help="where the databases go")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    if args.records < 1 or args.rounds < 1 or args.seconds <= 0:
        parser.error("--records and --rounds must be at least 1, --seconds positive")
    return args


# -- inputs ----------------------------------------------------------------------


def submit_record(seq: int) -> LogRecord:
    """A submit as the service logs it: the contact and the two events it caused."""
    at = 1_700_000_000.0 + seq * 0.25
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
        seq=seq,
        at=at,
        command=Submit(contact),
        events=(
            Queued(at=at, contact_id=contact_id, queue="support", channel="voice"),
            Offered(
                at=at,
                contact_id=contact_id,
                agent_id=f"a{seq % 400:04d}",
                queue="support",
                channel="voice",
                timeout_at=at + 20.0,
                reason=OfferReason("longest-idle", "contact", 12, 184.5, 170.25, 0, ()),
            ),
        ),
    )


# -- measuring -------------------------------------------------------------------


def timed_loop(step: Callable[[], tuple[int, float]], seconds: float) -> tuple[int, float]:
    """Call ``step`` until the time it reports adds up to ``seconds`` (at least 3 calls).

    ``step`` builds its input, times only the call measured, and returns
    ``(items handled, seconds)``.
    """
    items = 0
    spent = 0.0
    calls = 0
    gc.collect()
    gc.disable()
    try:
        while spent < seconds or calls < 3:
            n, elapsed = step()
            items += n
            spent += elapsed
            calls += 1
    finally:
        gc.enable()
    return items, spent


def raw_round(directory: Path, rows_per_commit: int, sync: str, seconds: float, name: str) -> float:
    """Rows per second committing ``rows_per_commit`` encoded rows per transaction."""
    path = directory / f"{name}.db"
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={sync}")
    connection.execute(
        "CREATE TABLE log (seq INTEGER PRIMARY KEY, at REAL NOT NULL, command TEXT NOT NULL,"
        " contact_id TEXT, agent_id TEXT, queue TEXT, version INTEGER NOT NULL,"
        " crc INTEGER NOT NULL, body TEXT NOT NULL)"
    )
    pool = [encode_row(submit_record(seq)) for seq in range(1, 1001)]
    next_seq = [1]

    def step() -> tuple[int, float]:
        first = next_seq[0]
        rows = [(seq, *pool[seq % len(pool)][1:]) for seq in range(first, first + rows_per_commit)]
        started = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany("INSERT INTO log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        connection.execute("COMMIT")
        elapsed = time.perf_counter() - started
        next_seq[0] = first + rows_per_commit
        return rows_per_commit, elapsed

    try:
        items, spent = timed_loop(step, seconds)
    finally:
        connection.close()
    return items / spent


def append_round(directory: Path, batch_size: int, sync: Any, seconds: float, name: str) -> float:
    """Records per second appending batches of ``batch_size`` to a fresh SQLiteStorage."""
    store = SQLiteStorage(directory / f"{name}.db", synchronous=sync)
    store.load()
    next_seq = [1]

    def step() -> tuple[int, float]:
        first = next_seq[0]
        batch = [submit_record(seq) for seq in range(first, first + batch_size)]
        started = time.perf_counter()
        store.append(batch)
        elapsed = time.perf_counter() - started
        next_seq[0] = first + batch_size
        return batch_size, elapsed

    try:
        items, spent = timed_loop(step, seconds)
    finally:
        store.close()
    return items / spent


def build_log(path: Path, records: int) -> float:
    """Write ``records`` records (no snapshot); return the seconds it took."""
    started = time.perf_counter()
    with SQLiteStorage(path, synchronous="OFF", retention=None) as store:
        for first in range(1, records + 1, 1000):
            store.append(
                [submit_record(seq) for seq in range(first, min(first + 1000, records + 1))]
            )
    return time.perf_counter() - started


def build_v1(path: Path, records: int) -> None:
    """The same records as format 1 stored them: ``(seq, crc, data)``, ``data`` a pickle."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute(
        "CREATE TABLE log (seq INTEGER PRIMARY KEY, crc INTEGER NOT NULL, data BLOB NOT NULL)"
    )
    for first in range(1, records + 1, 1000):
        rows = []
        for seq in range(first, min(first + 1000, records + 1)):
            record = submit_record(seq)
            data = pickle.dumps((record.at, record.command, record.events), protocol=5)
            rows.append((seq, zlib.crc32(data), data))
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO log VALUES (?, ?, ?)", rows)
        connection.execute("COMMIT")
    connection.close()


def load_v1_round(path: Path, records: int) -> float:
    """Seconds to read format-1 rows as the old store did: crc32 and ``pickle.loads`` each."""
    connection = sqlite3.connect(path, isolation_level=None)
    loads, crc32 = pickle.loads, zlib.crc32
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        out = []
        for seq, crc, data in connection.execute("SELECT seq, crc, data FROM log ORDER BY seq"):
            if crc32(data) != crc:
                raise SystemExit(f"format-1 row {seq} is damaged")
            at, command, events = loads(data)
            out.append(LogRecord(seq, at, command, events))
        elapsed = time.perf_counter() - started
    finally:
        gc.enable()
        connection.close()
    if len(out) != records:
        raise SystemExit(f"read {len(out)} format-1 records")
    del out
    gc.collect()
    return elapsed


def load_round(path: Path, records: int) -> float:
    """Seconds ``load()`` takes to read the whole log back (checked against its size)."""
    with SQLiteStorage(path, synchronous="FULL", retention=None) as store:
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            recovered = store.load()
            elapsed = time.perf_counter() - started
        finally:
            gc.enable()
    if len(recovered.records) != records or recovered.problem is not None:
        raise SystemExit(f"load returned {len(recovered.records)} records: {recovered.problem}")
    del recovered
    gc.collect()
    return elapsed


def interleaved(
    cases: Sequence[Any], rounds: int, one_round: Callable[[Any, int], float]
) -> dict[Any, list[float]]:
    """Round r of every case, for r in 1..rounds; the order of the cases rotates each round."""
    figures: dict[Any, list[float]] = {case: [] for case in cases}
    for r in range(rounds):
        shift = r % len(cases)
        for case in [*cases[shift:], *cases[:shift]]:
            figures[case].append(one_round(case, r))
    return figures


# -- reporting -------------------------------------------------------------------


def filesystem(directory: Path) -> str:
    """The file system type of ``directory`` from /proc/mounts, when there is one."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    resolved = str(directory.resolve())
    best = ("", "unknown")
    for fields in mounts:
        point, kind = fields[1], fields[2]
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best[0]):
            best = (point, kind)
    return f"{best[1]} (mounted at {best[0]})"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ccroute-bench-", dir=args.dir) as name:
        directory = Path(name)
        machine = {
            "platform": platform.platform(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "sqlite": sqlite3.sqlite_version,
            "cpu_count": os.cpu_count(),
            "load_average": list(os.getloadavg()),
            "ccroute": ccroute.__version__,
            "directory": str(directory),
            "filesystem": filesystem(directory),
        }
        print("# ccroute SQLite event log: raw sqlite3 vs SQLiteStorage")
        print()
        print(f"- machine: {machine['platform']}; {machine['cpu_count']} CPUs")
        print(f"- python {machine['python']}, SQLite {machine['sqlite']}")
        print(f"- databases in {directory}, file system {machine['filesystem']}")
        print(
            f"- WAL, synchronous FULL and NORMAL; {args.rounds} interleaved rounds per figure, "
            f"medians; load average at start {machine['load_average']}"
        )
        body_bytes = len(encode_row(submit_record(1)).body.encode())
        print()

        raw = interleaved(
            [(n, sync) for sync in SYNC_MODES for n in RAW_ROWS_PER_COMMIT],
            args.rounds,
            lambda case, r: raw_round(
                directory, case[0], case[1], args.seconds, f"raw-{case[0]}-{case[1]}-{r}"
            ),
        )
        appended = interleaved(
            [(n, sync) for sync in SYNC_MODES for n in APPEND_BATCHES],
            args.rounds,
            lambda case, r: append_round(
                directory, case[0], case[1], args.seconds, f"append-{case[0]}-{case[1]}-{r}"
            ),
        )
        log_path = directory / "load.db"
        build_seconds = build_log(log_path, args.records)
        file_bytes = log_path.stat().st_size
        v1_path = directory / "load-v1.db"
        build_v1(v1_path, args.records)
        v1_bytes = v1_path.stat().st_size
        both = interleaved(
            ("load", "v1"),
            args.rounds,
            lambda case, _r: (
                load_round(log_path, args.records)
                if case == "load"
                else load_v1_round(v1_path, args.records)
            ),
        )
        loads, v1_loads = both["load"], both["v1"]

    print(f"## 1. raw sqlite3, rows as the store writes them (~{body_bytes}-byte JSON body)")
    print()
    print_table(
        ["sync", "rows per commit", "rows/s", "commits/s"],
        [
            [
                sync,
                str(n),
                f"{statistics.median(raw[(n, sync)]):,.0f}",
                f"{statistics.median(raw[(n, sync)]) / n:,.0f}",
            ]
            for sync in SYNC_MODES
            for n in RAW_ROWS_PER_COMMIT
        ],
    )
    print()
    print(
        f"## 2. SQLiteStorage.append, submit records ({EVENTS_PER_RECORD} events each, "
        f"~{body_bytes}-byte JSON body)"
    )
    print()
    print_table(
        ["sync", "records per append", "records/s", "events/s", "appends/s"],
        [
            [
                sync,
                str(n),
                f"{statistics.median(appended[(n, sync)]):,.0f}",
                f"{statistics.median(appended[(n, sync)]) * EVENTS_PER_RECORD:,.0f}",
                f"{statistics.median(appended[(n, sync)]) / n:,.0f}",
            ]
            for sync in SYNC_MODES
            for n in APPEND_BATCHES
        ],
    )
    print()
    load_seconds = statistics.median(loads)
    v1_seconds = statistics.median(v1_loads)
    print(f"## 3. SQLiteStorage.load, {args.records:,} records, no snapshot")
    print()
    print_table(
        ["read", "load s", "records/s", "file MB"],
        [
            [
                "SQLiteStorage.load (format 2: checked, decoded through the constructors)",
                f"{load_seconds:.2f}",
                f"{args.records / load_seconds:,.0f}",
                f"{file_bytes / 1e6:,.0f}",
            ],
            [
                "same records as format-1 rows: crc32 + pickle.loads (the old store's read)",
                f"{v1_seconds:.2f}",
                f"{args.records / v1_seconds:,.0f}",
                f"{v1_bytes / 1e6:,.0f}",
            ],
        ],
    )
    print()
    print(f"building the format-2 log took {build_seconds:.1f} s (untimed)")
    print()
    print(f"total run time {time.perf_counter() - started:.0f} s")

    if args.json is not None:
        report = {
            "machine": machine,
            "args": {
                "records": args.records,
                "rounds": args.rounds,
                "seconds": args.seconds,
            },
            "body_bytes": body_bytes,
            "raw_sqlite3": {
                f"{sync} {n}": {
                    "rows_per_s": statistics.median(raw[(n, sync)]),
                    "rounds": raw[(n, sync)],
                }
                for sync in SYNC_MODES
                for n in RAW_ROWS_PER_COMMIT
            },
            "append": {
                f"{sync} {n}": {
                    "records_per_s": statistics.median(appended[(n, sync)]),
                    "events_per_s": statistics.median(appended[(n, sync)]) * EVENTS_PER_RECORD,
                    "rounds": appended[(n, sync)],
                }
                for sync in SYNC_MODES
                for n in APPEND_BATCHES
            },
            "load": {
                "records": args.records,
                "seconds": load_seconds,
                "records_per_s": args.records / load_seconds,
                "rounds": loads,
                "file_bytes": file_bytes,
                "build_seconds": build_seconds,
            },
            "load_format_1_pickle": {
                "seconds": v1_seconds,
                "records_per_s": args.records / v1_seconds,
                "rounds": v1_loads,
                "file_bytes": v1_bytes,
            },
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

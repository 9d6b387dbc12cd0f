"""How-to: a storage plugin: the service's log as JSON lines in a file.

Run: python docs/examples/howto_storage_plugin.py
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio

from ccroute import Agent, Contact, LogRecord, Presence, QueueConfig, Recovered, Service, hookimpl
from ccroute.codec import decode_row
from ccroute.errors import InputError, StorageError
from ccroute.storage import check_batch, check_snapshot, encode_batch


class JsonLinesStorage:
    """The log in ``<directory>/log.jsonl``, one encoded row per line; the latest
    snapshot in ``<directory>/snapshot`` (``seq`` line, then the bytes).

    Appends are all-or-nothing by writing a batch in one ``write`` and
    ``fsync`` before returning; a torn last line is the only damage a crash
    can leave, and ``load`` stops at the first line that does not decode.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._log = open(self.directory / "log.jsonl", "ab+")  # noqa: SIM115 (closed by close)
        self._last_seq = self.load().last_seq

    def load(self) -> Recovered:
        self._check_open()
        snapshot_seq, snapshot = self._read_snapshot()
        records: list[LogRecord] = []
        problem = None
        self._log.seek(0)
        for number, line in enumerate(self._log, 1):
            try:
                record = decode_row(json.loads(line))  # checks version, checksum, fields
            except (ValueError, InputError) as error:
                problem = f"line {number} of {self._log.name} is damaged: {error}"
                break
            if record.seq > snapshot_seq:
                records.append(record)
        return Recovered(snapshot_seq, snapshot, tuple(records), problem)

    def append(self, records: Sequence[LogRecord]) -> None:
        # The checks every store makes, from ccroute.storage: well-formed
        # records continuing the log, each encoded (and checked to decode)
        # before the first is written.
        self._check_open()
        batch = check_batch(records, self._last_seq, repr(self))
        lines = [json.dumps(list(row)) + "\n" for row in encode_batch(batch, records)]
        self._log.seek(0, os.SEEK_END)
        self._log.write("".join(lines).encode())
        self._log.flush()
        os.fsync(self._log.fileno())  # durable before the service acknowledges
        if batch:
            self._last_seq = batch[-1].seq

    def snapshot(self, seq: int, state: bytes) -> None:
        self._check_open()
        state = check_snapshot(seq, state, self._last_seq, self._read_snapshot()[0])
        temporary = self.directory / "snapshot.new"
        temporary.write_bytes(f"{seq}\n".encode() + state)
        os.replace(temporary, self.directory / "snapshot")  # atomic: old or new, never half

    def close(self) -> None:
        self._log.close()  # closing twice does nothing

    def _check_open(self) -> None:
        if self._log.closed:
            raise StorageError(f"{self!r} is closed")

    def __repr__(self) -> str:
        return f"JsonLinesStorage({str(self.directory)!r})"

    def _read_snapshot(self) -> tuple[int, bytes | None]:
        try:
            data = (self.directory / "snapshot").read_bytes()
        except FileNotFoundError:
            return 0, None
        seq, _, state = data.partition(b"\n")
        return int(seq), state


class JsonLinesPlugin:
    """Provides the store when the settings name a directory for it."""

    @hookimpl
    def ccroute_storage(self, settings: Mapping[str, Any]) -> JsonLinesStorage | None:
        directory = settings.get("jsonl")
        return None if directory is None else JsonLinesStorage(directory)


async def main() -> None:
    settings = {"jsonl": tempfile.mkdtemp()}
    for run in (1, 2):
        async with Service(settings=settings, plugins=[JsonLinesPlugin()]) as service:
            await service.add_queue(QueueConfig("support", offer_timeout=None))
            await service.add_agent(Agent("ana", queues={"support"}), Presence.AVAILABLE)
            if run == 1:
                await service.submit(Contact("c1", "chat", "support"))
            print(f"run {run}: contacts {service.router.contact_ids}")
    print((Path(settings["jsonl"]) / "log.jsonl").read_text().splitlines()[0][:100], "...")


if __name__ == "__main__":
    anyio.run(main)

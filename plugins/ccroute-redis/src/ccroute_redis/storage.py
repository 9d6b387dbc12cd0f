"""One partition's log and snapshots on Redis, as an :class:`ccroute.storage.AsyncStorage`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import redis.asyncio
from ccroute import codec
from ccroute.errors import FencedError, InputError, InvalidValueError, StorageError
from ccroute.storage import (
    LogRecord,
    Recovered,
    check_batch,
    check_snapshot,
    damaged_snapshots_note,
    encode_batch,
    retention_gap,
    snapshot_damage,
)

from ._keys import LAYOUT, MAGIC, Keys, entry_fields, seq_of

if TYPE_CHECKING:
    from .engine import RedisEngine

__all__ = ["RedisStorage"]

_FORMAT = codec.FORMAT
_READS = ", ".join(map(str, codec.READABLE_FORMATS))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _Refused(Exception):
    """The partition cannot be loaded by this release; nothing is to change."""


class RedisStorage:
    """A partition's event log (a Redis Stream) and snapshots (hashes).

    Made by :meth:`RedisEngine.storage <ccroute_redis.RedisEngine.storage>`;
    it behaves as :class:`~ccroute.SQLiteStorage` does, call for call: the
    same checks and errors (:mod:`ccroute.storage`), the same rows and
    checksums (:mod:`ccroute.codec`), a damaged record set aside with every
    record after it (in the partition's ``quarantine`` stream), snapshots
    kept and records dropped by the same retention rule.

    With a token, every :meth:`append` and :meth:`snapshot` is one Lua script
    that first checks the token is the partition's latest: a stale one gets
    :class:`~ccroute.errors.FencedError` and nothing is written. Without one
    (``token=None``) the store is read-only: writes raise
    :class:`~ccroute.errors.FencedError` and :meth:`load` reports damage
    without moving it.

    The first call checks the partition's ``meta`` hash: a partition is
    created on first use, and one written by a newer release (a newer key
    layout or log format) is refused untouched.
    """

    def __init__(self, engine: RedisEngine, keys: Keys, token: int | None) -> None:
        self._engine = engine
        self._keys = keys
        self._token = token
        self._last_seq: int | None = None
        self._snapshot_seq = 0
        self._opened = False
        self._closed = False

    @property
    def partition(self) -> str:
        """The partition's name."""
        return self._keys.partition

    @property
    def token(self) -> int | None:
        """The fencing token writes are checked against (``None``: read-only)."""
        return self._token

    @property
    def keys(self) -> Keys:
        """The names of the partition's keys."""
        return self._keys

    def __repr__(self) -> str:
        state = " (closed)" if self._closed else ""
        return (
            f"RedisStorage({self._engine.where}, partition={self.partition!r}, "
            f"token={self._token!r}){state}"
        )

    @property
    def _where(self) -> str:
        return f"partition {self.partition!r} in {self._engine.where}"

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"the store of {self._where} is closed")

    def _fenced(self, what: str, fence: object) -> FencedError:
        token = self._token if self._token is not None else 0
        if self._token is None:
            why = "this store is read-only (opened without a lease token)"
        else:
            why = (
                f"its lease token {self._token} is stale: another node took the lease "
                f"(latest token {_text(fence)})"
            )
        return FencedError(
            f"cannot {what} in {self._where}: {why}; nothing was stored",
            partition=self.partition,
            token=token,
        )

    async def _fence(self) -> int:
        """The partition's latest fencing token (0: none handed out)."""
        keys = self._keys

        async def get(client: redis.asyncio.Redis) -> Any:
            return await client.get(keys.fence)

        value = await self._engine._call(f"read the fence of {self._where}", get)
        return int(_text(value)) if value is not None else 0

    # -- the partition's meta ------------------------------------------------------

    async def _open(self) -> None:
        """Create the partition's meta, or check that this release reads it."""
        if self._opened:
            return
        keys = self._keys
        writable = self._token is not None

        async def meta(client: redis.asyncio.Redis) -> dict[Any, Any]:
            found: dict[Any, Any] = await client.hgetall(keys.meta)
            if not found and writable:
                # HSETNX each: two nodes creating the partition at once agree.
                await client.hsetnx(keys.meta, "magic", MAGIC)
                await client.hsetnx(keys.meta, "layout", str(LAYOUT))
                await client.hsetnx(keys.meta, "format", str(_FORMAT))
                found = await client.hgetall(keys.meta)
            latest: Any = await client.zrange(keys.snapshots, -1, -1)
            found[b"_latest_snapshot"] = latest[0] if latest else b"0"
            return found

        found = {
            _text(k): _text(v)
            for k, v in (await self._engine._call(f"open {self._where}", meta)).items()
        }
        latest = int(found.pop("_latest_snapshot"))
        if found:
            self._check_meta(found)
        # A store may write without load() (a warm takeover never loads): the
        # log's end and the latest snapshot come from Redis, not from memory.
        self._last_seq = int(found.get("last_seq", "0") or 0)
        self._snapshot_seq = latest
        self._opened = True

    def _check_meta(self, meta: dict[str, str]) -> None:
        if meta.get("magic") != MAGIC:
            raise StorageError(
                f"{self._where} is not a ccroute log (its meta hash {self._keys.meta} says "
                f"magic={meta.get('magic')!r}); it was left untouched"
            )
        layout = meta.get("layout", "")
        if not layout.isdigit() or int(layout) > LAYOUT:
            raise StorageError(
                f"{self._where} uses key layout {layout!r}, written by a newer ccroute-redis; "
                f"this release uses layout {LAYOUT}; it was left untouched"
            )
        found = meta.get("format", "")
        readable = {str(version) for version in codec.READABLE_FORMATS}
        if found not in readable:
            newer = found.isdigit() and int(found) > _FORMAT
            raise StorageError(
                f"{self._where} is a ccroute log in format {found!r}"
                + (", written by a newer ccroute" if newer else "")
                + f"; this release reads format {_READS}; it was left untouched"
            )

    # -- the AsyncStorage protocol -----------------------------------------------

    async def append(self, records: Sequence[LogRecord]) -> None:
        """Add records to the log in one script (one round trip): all or none.

        Each record is encoded once (:mod:`ccroute.codec`; a batch the service
        built as :class:`~ccroute.codec.EncodedRecords` is not encoded
        again); the script checks the fencing token and that the first seq
        follows the log's last, then adds one stream entry per record. With
        ``appendfsync always`` they are on disk when this returns.

        :raises InvalidValueError: an item is not a well-formed record or holds
            a value the log cannot hold (the message names the record).
        :raises FencedError: the store is read-only or its token is stale.
        :raises StorageError: the seqs do not continue the log, Redis cannot be
            reached, or the store is closed; nothing was stored.
        """
        self._check_open()
        await self._open()
        assert self._last_seq is not None
        try:
            batch = check_batch(records, self._last_seq, self._where)
        except StorageError:
            # The seqs do not continue the log as this store last saw it: when
            # another node took the lease (and maybe wrote), say that instead.
            fence = await self._fence()
            if self._token is not None and fence != self._token:
                raise self._fenced("append", fence) from None
            raise
        if not batch:
            return
        rows = encode_batch(batch, records)
        first, last = batch[0].seq, batch[-1].seq
        what = f"append records {first}..{last}"
        if self._token is None:
            raise self._fenced(what, None)
        args: list[Any] = [self._token, first, uuid.uuid4().hex]
        for row in rows:
            fields = entry_fields(row)
            args.append(len(fields) // 2)
            args.extend(fields)
        keys = self._keys
        result = await self._engine._script(
            "APPEND", f"{what} to {self._where}", [keys.fence, keys.meta, keys.log], args
        )
        status, value = _text(result[0]), _text(result[1])
        if status == "fenced":
            raise self._fenced(what, value)
        if status == "seq":
            found = int(value)
            self._last_seq = found
            raise StorageError(
                f"cannot append record {first} to {self._where}: the log ends at record "
                f"{found}; nothing was stored"
            )
        self._last_seq = last

    async def snapshot(self, seq: int, state: bytes) -> None:
        """Store the router's state after record ``seq`` in one script, keep the
        latest ``keep_snapshots`` and drop the records the retention lets go.

        :raises InvalidValueError: ``seq`` is beyond the log or before the
            latest snapshot, or ``state`` is not bytes.
        :raises FencedError: the store is read-only or its token is stale.
        :raises StorageError: Redis cannot be reached or the store is closed.
        """
        self._check_open()
        await self._open()
        assert self._last_seq is not None
        data = check_snapshot(seq, state, self._last_seq, self._snapshot_seq)
        what = f"store the snapshot after record {seq}"
        if self._token is None:
            raise self._fenced(what, None)
        engine, keys = self._engine, self._keys
        crc = codec.snapshot_crc(seq, _FORMAT, data)
        retention = "" if engine.retention is None else repr(engine.retention)
        result = await engine._script(
            "SNAPSHOT",
            f"{what} in {self._where}",
            [keys.fence, keys.meta, keys.log, keys.snapshots, keys.snapshot(seq)],
            [
                self._token,
                seq,
                _FORMAT,
                crc,
                data,
                engine.keep_snapshots,
                retention,
                keys.snapshot_prefix,
            ],
        )
        status, value = _text(result[0]), _text(result[1])
        if status == "fenced":
            raise self._fenced(what, value)
        if status == "seq":
            raise StorageError(
                f"cannot {what} in {self._where}: the log ends at record {value}; nothing was stored"
            )
        if status == "back":
            raise InvalidValueError(
                f"snapshot: record {seq} is before the latest snapshot (after record {value}); "
                "snapshots only move forward"
            )
        self._snapshot_seq = seq

    async def load(self) -> Recovered:
        """Read the latest good snapshot and the good records after it.

        As :meth:`ccroute.SQLiteStorage.load`: a snapshot whose checksum
        fails is set aside and the one before it used; the first record that
        is damaged or follows a gap ends the good prefix, and it and every
        record after it move to the ``quarantine`` stream (one script,
        fenced). A read-only store reports the same problem and moves
        nothing. Cost: O(records after the snapshot), read 2000 at a time
        and each checked and decoded.

        :raises StorageError: Redis cannot be reached; a snapshot or record is
            in a newer format; retention dropped records no good snapshot
            covers; the partition is another program's or newer. Nothing changed then.
        :raises FencedError: damage had to be set aside but the token is stale.
        """
        self._check_open()
        self._opened = False  # read meta afresh: another node may have written
        await self._open()
        try:
            recovered = await self._load()
        except _Refused as error:
            raise StorageError(f"{error}; nothing was changed") from None
        self._snapshot_seq = recovered.snapshot_seq
        self._last_seq = recovered.last_seq
        return recovered

    async def close(self) -> None:
        """Close the store (the engine and its connections stay open). Closing twice does nothing."""
        self._closed = True

    # -- recovery ------------------------------------------------------------------

    def _newer(self, what: str, version: int) -> _Refused:
        return _Refused(
            f"{what} in {self._where} is in format {version}, written by a newer ccroute; "
            f"this release reads format {_READS}"
        )

    async def _load(self) -> Recovered:
        problems: list[str] = []
        snapshot_seq, snapshot, note = await self._load_snapshot()
        if note is not None:
            problems.append(note)
        keys = self._keys

        async def meta(client: redis.asyncio.Redis) -> list[Any]:
            return list(await client.hmget(keys.meta, ["pruned_through", "last_seq"]))

        pruned_raw, last_raw = await self._engine._call(f"read {self._where}", meta)
        pruned = int(_text(pruned_raw or b"0"))
        meta_last = int(_text(last_raw or b"0"))
        if pruned and snapshot_seq < pruned:
            good = None if snapshot is None else snapshot_seq
            raise _Refused(retention_gap(self._where, pruned, good, note))
        records, note = await self._load_records(snapshot_seq, meta_last)
        if note is not None:
            problems.append(note)
        return Recovered(
            snapshot_seq=snapshot_seq,
            snapshot=snapshot,
            records=tuple(records),
            problem="; ".join(problems) or None,
        )

    async def _load_snapshot(self) -> tuple[int, bytes | None, str | None]:
        keys = self._keys

        async def seqs(client: redis.asyncio.Redis) -> list[Any]:
            return list(await client.zrevrange(keys.snapshots, 0, -1))

        damaged: list[str] = []
        data: bytes | None = None
        seq = 0
        for member in await self._engine._call(f"list the snapshots of {self._where}", seqs):
            seq = int(_text(member))

            async def read(client: redis.asyncio.Redis, seq: int = seq) -> list[Any]:
                return list(await client.hmget(keys.snapshot(seq), ["version", "crc", "body"]))

            version_raw, crc_raw, body = await self._engine._call(
                f"read the snapshot after record {seq} of {self._where}", read
            )
            version = _int(version_raw)
            if version is not None and version > _FORMAT:
                raise self._newer(f"the snapshot after record {seq}", version)
            shown = version if version is not None else _text(version_raw)
            found = body if isinstance(body, bytes) else None
            reason = snapshot_damage(seq, shown, _int(crc_raw), found)
            if reason is None:
                data = body
                break
            await self._set_aside_snapshot(seq, f"damaged snapshot ({reason})")
            damaged.append(
                f"the snapshot after record {seq} in {self._where} is damaged ({reason})"
            )
        else:
            seq, data = 0, None
        if not damaged:
            return seq, data, None
        kept = (
            "left in place (read-only store)"
            if self._token is None
            else "set aside in the quarantine stream"
        )
        return seq, data, damaged_snapshots_note(damaged, None if data is None else seq, kept)

    async def _set_aside_snapshot(self, seq: int, reason: str) -> None:
        if self._token is None:
            return
        keys = self._keys
        result = await self._engine._script(
            "SET_ASIDE_SNAPSHOT",
            f"set aside the snapshot after record {seq} of {self._where}",
            [keys.fence, keys.snapshots, keys.snapshot(seq), keys.quarantine],
            [self._token, seq, reason, _now()],
        )
        if _text(result[0]) == "fenced":
            raise self._fenced(f"set aside the snapshot after record {seq}", result[1])

    async def _load_records(
        self, snapshot_seq: int, meta_last: int
    ) -> tuple[list[LogRecord], str | None]:
        from .engine import CHUNK, decode_entry

        keys = self._keys
        records: list[LogRecord] = []
        keep = records.append
        expected = snapshot_seq + 1
        start = f"{snapshot_seq + 1}-0"
        what = first_reason = later_reason = ""
        bad: int | None = None
        while bad is None:

            async def chunk(client: redis.asyncio.Redis, start: str = start) -> list[Any]:
                found: Any = await client.xrange(keys.log, min=start, max="+", count=CHUNK)
                return list(found)

            entries = await self._engine._call(f"read the log of {self._where}", chunk)
            for entry_id, fields in entries:
                seq = seq_of(entry_id)
                if seq != expected:
                    bad = expected
                    what = (
                        f"record {expected} in {self._where} is missing "
                        f"(the log jumps from record {expected - 1} to entry {_text(entry_id)})"
                    )
                    first_reason = later_reason = f"follows missing record {expected}"
                    break
                try:
                    keep(decode_entry(entry_id, fields))
                except codec.NewerFormatError as error:
                    raise self._newer(f"record {seq}", error.version) from None
                except InputError as error:
                    bad = seq
                    what = f"record {seq} in {self._where} is damaged ({error})"
                    first_reason = f"damaged ({error})"
                    later_reason = f"follows damaged record {seq}"
                    break
                expected += 1
            if len(entries) < CHUNK:
                break
            start = f"({_text(entries[-1][0])}"
        last_good = expected - 1
        if bad is None and meta_last > last_good and meta_last > snapshot_seq:
            # Entries at the end are missing (deleted by hand?): the log goes on
            # from its last good record.
            bad = last_good + 1
            what = f"records {last_good + 1}..{meta_last} in {self._where} are missing"
            first_reason = later_reason = "missing"
        if bad is None:
            return records, None
        moved, last = await self._set_aside_records(expected, first_reason, later_reason)
        recovered = _plural(len(records), "good record") + " recovered"
        if snapshot_seq:
            recovered += f" after the snapshot at record {snapshot_seq}"
        if self._token is None:
            return records, f"{what}; {recovered} (read-only store: nothing was moved)"
        span = f"record {expected}" if moved == 1 else f"records {expected}..{last}"
        aside = (
            f"{moved} ({span}) set aside in the quarantine stream"
            if moved
            else "nothing to set aside"
        )
        return records, f"{what}; {recovered}, {aside}"

    async def _set_aside_records(
        self, first: int, first_reason: str, later_reason: str
    ) -> tuple[int, int]:
        if self._token is None:
            return 0, first
        keys = self._keys
        result = await self._engine._script(
            "SET_ASIDE_RECORDS",
            f"set aside records from {first} on in {self._where}",
            [keys.fence, keys.meta, keys.log, keys.quarantine],
            [self._token, first, first_reason, later_reason, _now()],
        )
        if _text(result[0]) == "fenced":
            raise self._fenced(f"set aside records from {first} on", result[1])
        return int(_text(result[1])), int(_text(result[2]))


def _int(value: Any) -> int | None:
    try:
        return int(_text(value))
    except (TypeError, ValueError):
        return None

"""A private PostgreSQL server for tests, examples and benchmarks.

:func:`temporary_server` runs Debian's ``postgresql`` binaries
(``/usr/lib/postgresql/<version>/bin``, or ``initdb`` and ``postgres`` on
``PATH``): ``initdb`` in a temporary directory, then ``postgres`` listening
on 127.0.0.1 only, on a free port, with ``fsync`` and ``synchronous_commit``
on, as ccroute needs in production. When the process runs as root the
server runs as the ``postgres`` user (PostgreSQL refuses root). Everything
goes when the context ends.

Not imported by ``import ccroute_postgres``: it starts processes.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Final

from ccroute.errors import StorageError

__all__ = ["TemporaryServer", "find_binaries", "temporary_server"]

_PACKAGE: Final = "postgresql"
_START_TIMEOUT: Final = 30.0


def find_binaries() -> str:
    """The directory holding ``initdb`` and ``postgres`` (the newest Debian version).

    :raises StorageError: PostgreSQL is not installed; the message names the
        Debian package to install.
    """
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda path: [int(p) if p.isdigit() else 0 for p in path.split("/")[-2].split(".")],
    )
    for directory in reversed(candidates):
        if os.access(os.path.join(directory, "initdb"), os.X_OK) and os.access(
            os.path.join(directory, "postgres"), os.X_OK
        ):
            return directory
    initdb = shutil.which("initdb")
    if initdb is not None and shutil.which("postgres") is not None:
        return os.path.dirname(initdb)
    raise StorageError(
        "PostgreSQL's server binaries (initdb, postgres) were not found in "
        "/usr/lib/postgresql/*/bin nor on PATH: install the Debian package "
        f"{_PACKAGE!r} (apt-get install -y --no-install-recommends {_PACKAGE})"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TemporaryServer:
    """A PostgreSQL server in a temporary directory, on 127.0.0.1 (see the module).

    :meth:`start` and :meth:`stop` may be called again (a restart keeps the
    data and the port), so tests can take the server away under a client.
    :attr:`dsn` is the libpq connection string of its ``postgres`` database
    (trust authentication: it listens on loopback only and lives for a test run).
    """

    def __init__(self, *, database: str = "postgres") -> None:
        self._bin = find_binaries()
        self._dir = tempfile.mkdtemp(prefix="ccroute-pg-")
        self._data = os.path.join(self._dir, "data")
        self._database = database
        self._port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._log = os.path.join(self._dir, "server.log")
        # PostgreSQL refuses to run as root: run it as the package's user (the
        # child switches user itself, so signals reach postgres, not a wrapper).
        self._ids: tuple[int, int] | None = None
        if os.geteuid() == 0:
            self._ids = _postgres_ids()
            os.chown(self._dir, *self._ids)
        self._run(
            [
                os.path.join(self._bin, "initdb"),
                "-D",
                self._data,
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--locale=C",
                # The template files need no sync for a throw-away cluster; the
                # server itself runs with fsync on.
                "--no-sync",
            ]
        )

    def _run(self, argv: list[str]) -> None:
        try:
            subprocess.run(
                argv,
                check=True,
                capture_output=True,
                timeout=120,
                cwd=self._dir,
                user=self._uid,
                group=self._gid,
                extra_groups=self._groups,
            )
        except subprocess.CalledProcessError as error:
            output = (error.stdout + error.stderr).decode(errors="replace")
            raise StorageError(f"{argv[0]} failed ({error.returncode}): {output}") from None

    @property
    def _uid(self) -> int | None:
        return None if self._ids is None else self._ids[0]

    @property
    def _gid(self) -> int | None:
        return None if self._ids is None else self._ids[1]

    @property
    def _groups(self) -> list[int] | None:
        return None if self._ids is None else []

    @property
    def port(self) -> int:
        """The TCP port it listens on (127.0.0.1)."""
        return self._port

    @property
    def dsn(self) -> str:
        """The libpq connection string of its database."""
        return f"host=127.0.0.1 port={self._port} user=postgres dbname={self._database}"

    @property
    def running(self) -> bool:
        """Whether the server process is running."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start the server and wait until it takes connections (30 s at most).

        :raises StorageError: it did not start; the message holds its log.
        """
        if self.running:
            return
        log = open(self._log, "ab")  # noqa: SIM115 (the server writes it while it runs)
        if self._ids is not None:
            os.chown(self._log, *self._ids)
        self._process = subprocess.Popen(
            [
                os.path.join(self._bin, "postgres"),
                "-D",
                self._data,
                "-p",
                str(self._port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self._dir}",
                "-c",
                "fsync=on",
                "-c",
                "synchronous_commit=on",
                "-c",
                "full_page_writes=on",
                "-c",
                "max_connections=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self._dir,
            start_new_session=True,
            user=self._uid,
            group=self._gid,
            extra_groups=self._groups,
        )
        log.close()
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            with contextlib.suppress(OSError):
                with socket.create_connection(("127.0.0.1", self._port), timeout=0.5):
                    pass
                if self._accepts():
                    return
            time.sleep(0.05)
        self.stop()
        raise StorageError(f"postgres did not start on port {self._port}: {self.log_tail()}")

    def _accepts(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.dsn, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def log_tail(self, size: int = 2000) -> str:
        """The end of the server's log, for error messages."""
        try:
            with open(self._log, "rb") as file:
                file.seek(max(0, os.path.getsize(self._log) - size))
                return file.read().decode(errors="replace")
        except OSError:
            return "(no log)"

    def stop(self, *, fast: bool = True) -> None:
        """Stop the server: a fast shutdown (``SIGINT``), or an immediate one
        (``SIGQUIT``, like a crash: recovery replays the WAL at the next start)
        with ``fast=False``. Waits 30 s at most, then kills it."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT if fast else signal.SIGQUIT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def restart(self, *, fast: bool = True) -> None:
        """Stop and start again (same data, same port)."""
        self.stop(fast=fast)
        self.start()

    def cleanup(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


def _postgres_ids() -> tuple[int, int]:
    import pwd

    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise StorageError(
            "running as root, the server must run as the user 'postgres', which does not "
            f"exist: install the Debian package {_PACKAGE!r}"
        ) from None
    return user.pw_uid, user.pw_gid


@contextlib.contextmanager
def temporary_server() -> Iterator[TemporaryServer]:
    """A started :class:`TemporaryServer`, stopped and removed at the end.

    Starting costs about two seconds (``initdb`` then the server).

    :raises StorageError: PostgreSQL is not installed (the message names the
        Debian package) or the server did not start.
    """
    server = TemporaryServer()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()

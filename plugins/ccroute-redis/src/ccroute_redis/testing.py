"""A private Redis server for tests, examples and benchmarks.

:func:`temporary_server` starts Debian's ``redis-server`` on a free loopback
port, in a temporary directory, with the durability ccroute needs
(``appendonly yes``, ``appendfsync always``, no RDB snapshots), and stops it
at the end. Nothing here is imported by ``import ccroute_redis``.

::

    from ccroute_redis.testing import temporary_server

    with temporary_server() as server:
        engine = RedisEngine(server.url)
        ...
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence

from ccroute.errors import StorageError

__all__ = ["RedisServer", "RedisServerMissing", "free_port", "temporary_server"]

#: The Debian package that provides the server.
PACKAGE = "redis-server"


class RedisServerMissing(StorageError):
    """``redis-server`` is not installed (the message names the Debian package)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if found is None:
        raise RedisServerMissing(
            "redis-server is not installed: install Debian's package "
            f"(apt-get install -y {PACKAGE}, or sh tools/install-test-services.sh)"
        )
    return found


class RedisServer:
    """A ``redis-server`` process this program started, on 127.0.0.1.

    Its data (the append-only file) lives in :attr:`directory`, which
    survives :meth:`restart`, so a test can check what a restart keeps.

    :param appendfsync: the server's ``appendfsync`` (``"always"`` by default).
    :param extra: more ``--name value`` arguments for the server.
    """

    def __init__(
        self, directory: str, *, appendfsync: str = "always", extra: Sequence[str] = ()
    ) -> None:
        self.directory = directory
        self.port = free_port()
        self._args = [
            _binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            directory,
            "--appendonly",
            "yes",
            "--appendfsync",
            appendfsync,
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            os.path.join(directory, "redis.log"),
            *extra,
        ]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return None if self._process is None else self._process.pid

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers ``PING``.

        :raises StorageError: it exited or did not answer in ``timeout`` seconds
            (the message carries the end of its log).
        """
        self._process = subprocess.Popen(
            self._args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if self._ping():
                return
            time.sleep(0.02)
        self.stop()
        raise StorageError(f"redis-server on port {self.port} did not start: {self._log_tail()}")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def _log_tail(self) -> str:
        try:
            with open(os.path.join(self.directory, "redis.log"), errors="replace") as log:
                return " | ".join(log.read().strip().splitlines()[-5:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop the server (SIGTERM: it flushes the append-only file). Stopping twice does nothing."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr is not None:
            process.stderr.close()

    def kill(self) -> None:
        """Kill the server with SIGKILL, as a crash would (no shutdown, no flush)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGKILL)
        process.wait()
        if process.stderr is not None:
            process.stderr.close()

    def restart(self, *, crash: bool = False) -> None:
        """Stop the server (kill it with ``crash=True``) and start it again on the same port and data."""
        if crash:
            self.kill()
        else:
            self.stop()
        self.start()


@contextlib.contextmanager
def temporary_server(
    *, appendfsync: str = "always", extra: Sequence[str] = ()
) -> Iterator[RedisServer]:
    """A private Redis server for the ``with`` block, in a temporary directory.

    Started with ``--bind 127.0.0.1 --port <free> --appendonly yes
    --appendfsync always --save ''``; stopped, and its directory removed, at
    the end. Cost: about 20 ms to start.

    :raises RedisServerMissing: ``redis-server`` is not installed (Debian
        package ``redis-server``).
    """
    with tempfile.TemporaryDirectory(prefix="ccroute-redis-") as directory:
        server = RedisServer(directory, appendfsync=appendfsync, extra=extra)
        server.start()
        try:
            yield server
        finally:
            server.stop()

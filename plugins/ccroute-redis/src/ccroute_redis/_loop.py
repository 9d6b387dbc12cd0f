"""redis-py's asyncio client, usable from asyncio and trio alike.

``redis.asyncio`` runs on asyncio only, and its connections belong to the
event loop that opened them. The engine therefore keeps its client on a
private asyncio loop in a daemon thread, and every call is a coroutine
submitted to that loop and awaited from the caller's loop, whichever library
runs it. Cost: two thread wake-ups per call (some tens of microseconds), paid
once per batch with group commit; in exchange one engine serves any number
of event loops, on either library, one after another or at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import sniffio
from ccroute.errors import StorageError

T = TypeVar("T")


class LoopThread:
    """An asyncio event loop running in a daemon thread until :meth:`stop`."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = threading.Event()
        self._stopped = False
        self._thread.start()
        self._started.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._started.set)
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The private loop (for code that must run on it)."""
        return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the private loop; its future."""
        if self._stopped:
            coro.close()
            raise StorageError("the Redis engine is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the private loop and await its result from the caller's
        loop (asyncio or trio). Cancelling the caller cancels the coroutine."""
        future = self.submit(coro)
        library = sniffio.current_async_library()
        if library == "asyncio":
            return await asyncio.wrap_future(future)
        if library != "trio":
            future.cancel()
            raise StorageError(f"the Redis engine runs on asyncio or trio, not {library}")
        import trio

        token = trio.lowlevel.current_trio_token()
        done = trio.Event()

        def wake(_: object) -> None:
            # The caller's run may have ended (cancelled and gone): nobody to wake.
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(done.set)

        future.add_done_callback(wake)
        try:
            await done.wait()
        except BaseException:
            future.cancel()
            raise
        return future.result()

    def run_sync(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the private loop and block this (other) thread until it ends."""
        return self.submit(coro).result(timeout)

    def stop(self) -> None:
        """Stop the loop and join its thread. Stopping twice does nothing."""
        if self._stopped:
            return
        self._stopped = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        if threading.current_thread() is not self._thread:
            self._thread.join(10)

"""Waiters for calls whose caller does not block: asyncio futures and concurrent futures.

A :class:`orb._channel.Channel` keeps one waiter per request id. Its
reader thread fills in ``ok``, ``value`` and ``refs`` and then calls
``waiter.lock.release()``. For a blocked thread ``lock`` is a held lock;
the waiters here present themselves as the lock, and their ``release``
completes a future instead:

* :class:`AsyncPending` wakes a coroutine on its event loop through the
  loop's :class:`orb._loop.Inbox`;
* :class:`FuturePending` completes a ``concurrent.futures.Future`` (see
  :func:`orb.future`).
"""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING, Any

from ._errors import TimeoutError
from ._wire import Cancel

if TYPE_CHECKING:
    import asyncio

    from ._channel import Channel
    from ._loop import Inbox


class AsyncPending:
    """One call awaited by a coroutine; the reply completes ``future`` on its loop."""

    __slots__ = ("future", "inbox", "method", "ok", "refs", "settled", "value")

    def __init__(self, method: str, inbox: Inbox) -> None:
        self.settled = False  # release() has run through, on the loop
        self.ok = False
        self.value: Any = None
        self.method = method
        self.refs: list[Any] = []
        self.future: asyncio.Future[None] = inbox.loop.create_future()
        self.inbox = inbox

    @property
    def lock(self) -> AsyncPending:
        return self

    def release(self) -> None:
        """The outcome is in (called once, from any thread)."""
        self.inbox.call(self._settle)

    def _settle(self) -> None:
        self.settled = True
        if not self.future.done():  # not cancelled or timed out meanwhile
            self.future.set_result(None)

    async def outcome(self) -> None:
        """Wait for the outcome of a call already taken off the channel by its reader.

        Used when the reply races a timeout: the reader has the waiter but
        may not have filled it in yet.
        """
        if not self.settled:
            self.future = self.inbox.loop.create_future()
            await self.future

    def open_stream(self, channel: Channel, request_id: int) -> Any:
        from ._streams import AsyncStream

        return AsyncStream(channel, request_id, self.inbox)


class FuturePending:
    """One call whose outcome completes a ``concurrent.futures.Future``.

    It holds its channel's call slot until the outcome is in, and gives it
    back itself.
    """

    __slots__ = ("channel", "future", "method", "ok", "refs", "value")

    def __init__(self, method: str, channel: Channel) -> None:
        self.ok = False
        self.value: Any = None
        self.method = method
        self.refs: list[Any] = []
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.channel = channel

    @property
    def lock(self) -> FuturePending:
        return self

    def release(self) -> None:
        """The outcome is in (called once, by whoever took this waiter off the channel)."""
        self.channel._release_slot()
        if self.refs:
            # Claiming leases is a remote call: never on the reader thread.
            try:
                self.channel.broker._pool.submit(self._adopt_and_settle)
            except RuntimeError:  # the broker is shutting down
                self._settle()
        else:
            self._settle()

    def _adopt_and_settle(self) -> None:
        try:
            self.channel.broker._adopt(self.refs)
        finally:
            self._settle()

    def _settle(self) -> None:
        future = self.future
        try:
            if self.ok:
                future.set_result(self.value)
            else:
                future.set_exception(self.value)
        except concurrent.futures.InvalidStateError:  # cancelled by its owner
            pass

    def time_out(self, request_id: int, timeout: float) -> None:
        """The reply did not come in ``timeout`` seconds: fail the future, cancel the call."""
        channel = self.channel
        if channel._pending.pop(request_id, None) is None:
            return  # the reply won the race
        self.ok = False
        self.value = TimeoutError(
            f"no reply to {self.method!r} from {channel.transport.peer_address} "
            f"within {timeout:g}s"
        )
        self.release()
        try:
            channel.broker._pool.submit(channel._send_quietly, Cancel(request_id=request_id))
        except RuntimeError:  # the broker is shutting down
            pass

    def open_stream(self, channel: Channel, request_id: int) -> Any:
        from ._streams import Stream

        return Stream(channel, request_id)

"""Delivers push notifications ("Push notifications", "StatusFrequency", "SubscriptionStatus"):
each live push subscription has a task on the server's event loop that POSTs ``SendNotification``
to its URL when events it wants happened, or a StatusEvent after StatusFrequency minutes
without any, and reads the client's SubscriptionStatus. OK moves the subscription past what was
sent; Unsubscribe ends it; so does a URL that cannot be reached or answers anything else after
the retries. An ended subscription is sent nothing more.

The SOAP request that made a change never waits for this: the change only wakes the tasks
(``MailboxEvents.listeners``), which wait ``coalesce`` seconds so that the events of one burst
ride in one notification (at most ``batch``, with MoreEvents when more wait; the next
notification follows at once).

Deviation from Exchange, so tests need not wait minutes: Exchange retries an unanswered
notification after 30 s, doubling the wait each time, until StatusFrequency minutes are spent;
here ``tries`` attempts (3) ``retry_delay`` (0.2 s) apart. ``ping`` (the backdoor) sends every
live subscription its next notification now, a StatusEvent when nothing is pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from calsync_localinfra.ews.events import Outgoing, PushSubscription
from calsync_localinfra.ews.notifications import (
    SOAP_ACTION,
    notification_request,
    subscription_status,
)
from calsync_localinfra.ews.store import ExchangeState

HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": SOAP_ACTION}
log = logging.getLogger(__name__)


class PushNotifier:
    def __init__(
        self,
        state: ExchangeState,
        *,
        coalesce: float = 0.05,
        tries: int = 3,
        retry_delay: float = 0.2,
        timeout: float = 5.0,
        batch: int = 50,
        minute: float = 60.0,
    ) -> None:
        """``minute``: seconds in a StatusFrequency minute (tests shorten it)."""
        self._state = state
        self.coalesce, self.tries, self.retry_delay = coalesce, tries, retry_delay
        self.timeout, self.batch, self.minute = timeout, batch, minute
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._signals: dict[str, asyncio.Event] = {}
        self._pings: set[str] = set()

    async def start(self) -> None:
        # The subscriber's URL is called directly, as Exchange would: no proxy from the
        # environment.
        self._client = httpx.AsyncClient(timeout=self.timeout, trust_env=False)
        self._loop = asyncio.get_running_loop()
        with self._state.locked():
            self._state.events.listeners.append(self.wake)
        self._reconcile()

    async def aclose(self) -> None:
        with self._state.locked():
            if self.wake in self._state.events.listeners:
                self._state.events.listeners.remove(self.wake)
        self._loop = None
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def wake(self) -> None:
        """Called by the events table (under the state's lock, from any thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._reconcile)

    def ping(self) -> int:
        """Every live subscription is sent a notification now; answers how many."""
        if self._loop is None:
            return 0
        with self._state.locked():
            live = [s.id for s in self._state.events.subscriptions.values() if s.alive]
        self._pings.update(live)
        self._reconcile()
        return len(live)

    def _reconcile(self) -> None:
        """A task for every live subscription, each woken to look for work."""
        if self._loop is None:
            return
        with self._state.locked():
            live = [s for s in self._state.events.subscriptions.values() if s.alive]
        for subscription in live:
            if subscription.id not in self._tasks:
                self._signals[subscription.id] = asyncio.Event()
                task = asyncio.create_task(self._serve(subscription), name="ews-push")
                self._tasks[subscription.id] = task
            self._signals[subscription.id].set()

    async def _serve(self, subscription: PushSubscription) -> None:
        try:
            await self._loop_over(subscription)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("push subscription %s failed", subscription.id)

    async def _loop_over(self, subscription: PushSubscription) -> None:
        signal, loop = self._signals[subscription.id], asyncio.get_running_loop()
        last_sent, period = loop.time(), subscription.status_frequency * self.minute
        while subscription.alive:
            idle = period - (loop.time() - last_sent)
            if idle > 0 and not signal.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(signal.wait(), idle)
            signal.clear()
            pinged = subscription.id in self._pings
            self._pings.discard(subscription.id)
            with self._state.locked():
                pending = self._state.events.pending(subscription)
            if pending:
                await asyncio.sleep(self.coalesce)
            elif not pinged and loop.time() - last_sent < period:
                continue
            with self._state.locked():
                outgoing = self._state.events.outgoing(subscription, self.batch)
            status = await self._deliver(outgoing)
            last_sent = loop.time()
            with self._state.locked():
                alive = self._state.events.settle(subscription, outgoing, status)
            if not alive:
                log.info("push subscription %s ended: %s", subscription.id, subscription.ended)
            elif outgoing.more:
                signal.set()

    async def _deliver(self, outgoing: Outgoing) -> str | None:
        """The client's SubscriptionStatus, or None when no try got one."""
        if self._client is None:
            return None
        body = notification_request(outgoing)
        for attempt in range(self.tries):
            if attempt:
                await asyncio.sleep(self.retry_delay)
            try:
                response = await self._client.post(outgoing.url, content=body, headers=HEADERS)
            except httpx.HTTPError as error:
                log.info("push to %s failed: %r", outgoing.url, error)
                continue
            if response.status_code == 200:
                status = subscription_status(response.content)
                if status is not None:
                    return status
            log.info("push to %s answered %s", outgoing.url, response.status_code)
        return None

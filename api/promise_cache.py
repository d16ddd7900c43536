"""The promise's in-memory supply chain: refreshed in the background, never on the way of
a cart change (once a second, stock and capacity changes; once a minute, supply and a
check that the network did not change)."""

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from db.performance import PerformanceCache
from db.policies import active_policy
from db.supply_chain import (
    load_supply_chain,
    network_fingerprint,
    read_receipt_times,
    read_supply,
    refresh,
)
from domain.policy import SourcingPolicy
from domain.supply_chain import SupplyChain

log = logging.getLogger("oms.promise")
STALE_AFTER = timedelta(minutes=5)


class SupplyChainCache:
    def __init__(
        self,
        engine: Engine,
        max_age: float = 1.0,
        full_reload_every: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.engine = engine
        self.clock = clock  # the API's: what the field taught is judged as of its now
        self.max_age = max_age
        self.full_reload_every = full_reload_every
        self.chain: SupplyChain | None = None
        self.policy: SourcingPolicy | None = None
        self._refreshed_at = 0.0
        self._loaded_at = 0.0
        self._since: datetime | None = None
        self._network = ""
        self._task: asyncio.Task | None = None
        self._first = asyncio.Lock()
        self._performance = PerformanceCache()
        self._clock_at: datetime | None = None  # the API's clock at the last cart

    async def get(self, now: datetime | None = None) -> tuple[SupplyChain, SourcingPolicy]:
        """The supply chain as of the last refresh (at most a second old while carts keep
        coming); after a quiet spell of more than STALE_AFTER on the API's clock, the
        first cart waits for a fresh one rather than get dates from before the lull."""
        if self.chain is None or self.policy is None:
            async with self._first:
                if self.chain is None:
                    await run_in_threadpool(self._reload, True)
        elif now is not None and self._clock_at is not None and now - self._clock_at > STALE_AFTER:
            self._clock_at = now
            if self._task is None:
                self._task = asyncio.create_task(self._refresh_in_background())
            await asyncio.shield(self._task)
        elif time.monotonic() - self._refreshed_at > self.max_age and self._task is None:
            self._task = asyncio.create_task(self._refresh_in_background())
        if now is not None and (self._clock_at is None or now > self._clock_at):
            self._clock_at = now
        assert self.chain is not None and self.policy is not None
        return self.chain, self.policy

    def invalidate(self) -> None:
        """Reload everything at the next call (e.g. after a network or policy change)."""
        self._loaded_at = 0.0
        self._refreshed_at = 0.0
        self._network = ""

    async def _refresh_in_background(self) -> None:
        try:
            full = time.monotonic() - self._loaded_at > self.full_reload_every
            await run_in_threadpool(self._reload, full)
        except Exception:
            log.exception("refreshing the promise's supply chain failed; keeping the last one")
        finally:
            self._task = None

    def _reload(self, full: bool) -> None:
        """Every second: stock and capacity changes. Every ten seconds: what the field
        taught (lead times, lanes). Every minute: supply, and the network itself; only a
        changed network (nodes, carriers, calendar) reads all stock again."""
        started = datetime.now(UTC)
        with Session(self.engine) as session:
            if self.chain is None or self._since is None or self._loaded_at == 0.0:
                self._load_all(session)
            elif full:
                if network_fingerprint(session) != self._network:
                    self._load_all(session)
                else:
                    refresh(self.chain, session, self._since)
                    self.chain.supply = read_supply(session)
                    self.chain.receipt_times = read_receipt_times(session, self.chain)
                    self._loaded_at = time.monotonic()
            else:
                refresh(self.chain, session, self._since)
            self.policy = active_policy(session)
            assert self.chain is not None
            if self.policy.lead_times == "learned":
                learned = self._performance.get(session, self.chain, self.clock())
                if learned is not self.chain.performance:  # a new value resets ship days
                    self.chain.performance = learned
        self._since = started
        self._refreshed_at = time.monotonic()

    def _load_all(self, session: Session) -> None:
        self._network = network_fingerprint(session)
        self.chain = load_supply_chain(session)
        self._loaded_at = time.monotonic()

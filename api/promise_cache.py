"""The promise's in-memory supply chain: refreshed in the background, never on the way of
a cart change (once a second, stock and capacity changes; once a minute, supply and a
check that the network did not change)."""

import asyncio
import logging
import time
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from db.policies import active_policy
from db.supply_chain import load_supply_chain, network_fingerprint, read_supply, refresh
from domain.policy import SourcingPolicy
from domain.supply_chain import SupplyChain

log = logging.getLogger("oms.promise")


class SupplyChainCache:
    def __init__(self, engine: Engine, max_age: float = 1.0, full_reload_every: float = 60.0):
        self.engine = engine
        self.max_age = max_age
        self.full_reload_every = full_reload_every
        self.chain: SupplyChain | None = None
        self.policy: SourcingPolicy | None = None
        self._refreshed_at = 0.0
        self._loaded_at = 0.0
        self._since = None
        self._network = ""
        self._task: asyncio.Task | None = None
        self._first = asyncio.Lock()

    async def get(self) -> tuple[SupplyChain, SourcingPolicy]:
        if self.chain is None or self.policy is None:
            async with self._first:
                if self.chain is None:
                    await run_in_threadpool(self._reload, True)
        elif time.monotonic() - self._refreshed_at > self.max_age and self._task is None:
            self._task = asyncio.create_task(self._refresh_in_background())
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
        """Every second: stock and capacity changes. Every minute: supply, and the network
        itself; only a changed network (nodes, carriers, calendar) reads all stock again."""
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
                    self._loaded_at = time.monotonic()
            else:
                refresh(self.chain, session, self._since)
            self.policy = active_policy(session)
        self._since = started
        self._refreshed_at = time.monotonic()

    def _load_all(self, session: Session) -> None:
        self._network = network_fingerprint(session)
        self.chain = load_supply_chain(session)
        self._loaded_at = time.monotonic()

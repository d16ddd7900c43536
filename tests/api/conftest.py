"""An API wired to the real Temporal dev server, a worker, and a fresh SQLite ledger."""

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import Engine
from temporalio.client import Client

from api.app import create_app
from api.auth import sign_request
from config import Settings
from worker.main import build_worker

KEYS = {
    "checkout": "test-checkout-key-0123456789",
    "support": "test-support-key-0123456789",
    "warehouse": "test-warehouse-key-0123456789",
    "admin": "test-admin-key-0123456789",
}
SECRET = "test-signing-secret-0123456789abcdef"


class TestClock:
    """The API's clock in a test: the wall clock, until the test sets it to the moment it
    plays (a cart asked on a given Wednesday, an order placed days ago). The workflows run
    on the dev server's wall clock all the same: what they judge against it (a carrier's
    `at`) must have happened by the wall clock too."""

    __test__ = False  # not a test class, for pytest

    def __init__(self) -> None:
        self._at: datetime | None = None

    def __call__(self) -> datetime:
        return self._at or datetime.now(UTC)

    def set(self, at: datetime | str | None) -> None:
        """Stop the clock at `at` (ISO text or an aware datetime); None: the wall clock."""
        self._at = datetime.fromisoformat(at) if isinstance(at, str) else at


@dataclass
class Api:
    http: httpx.AsyncClient
    engine: Engine
    settings: Settings
    client: Client
    clock: TestClock = dataclasses.field(default_factory=TestClock)  # the API's

    def auth(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {KEYS[role]}"} if role else {}

    async def get(self, path: str, role: str | None = "support", **kw) -> httpx.Response:
        return await self.http.get(path, headers=self.auth(role), **kw)

    async def post(self, path: str, body, role: str | None = "checkout") -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.auth(role))

    async def field(
        self,
        path: str,
        body,
        role: str = "warehouse",
        secret: str = SECRET,
        at: float | None = None,
    ) -> httpx.Response:
        """POST an event as a field system does: raw body, timestamp and HMAC signature."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        timestamp = str(int(at if at is not None else time.time()))
        headers = {
            **self.auth(role),
            "Content-Type": "application/json",
            "X-OMS-Timestamp": timestamp,
            "X-OMS-Signature": "sha256=" + sign_request(secret, timestamp, "POST", path, raw),
        }
        return await self.http.post(path, content=raw, headers=headers)

    async def wait_status(self, order_id: str, status: str, tries: int = 200) -> dict:
        body: dict = {}
        for _ in range(tries):
            response = await self.get(f"/v1/orders/{order_id}")
            body = response.json()
            if response.status_code == 200 and body["status"] == status:
                return body
            await asyncio.sleep(0.05)
        raise AssertionError(f"order {order_id} never reached {status}: {body}")


async def eventually(check, tries: int = 100) -> None:
    """Wait (without blocking the worker's event loop) until check() holds."""
    for _ in range(tries):
        if check():
            return
        await asyncio.sleep(0.05)
    assert check()


@pytest.fixture
async def api(client, task_queue: str, engine: Engine, sqlite_url: str) -> AsyncIterator[Api]:
    settings = Settings(
        api_keys=",".join(f"{role}:{key}" for role, key in KEYS.items()),
        signing_secret=SECRET,
        task_queue=task_queue,
        database_url=sqlite_url,
    )
    clock = TestClock()
    app = create_app(settings, engine=engine, temporal_client=client, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with build_worker(client, task_queue, engine):
        async with httpx.AsyncClient(transport=transport, base_url="http://oms") as http:
            yield Api(http=http, engine=engine, settings=settings, client=client, clock=clock)

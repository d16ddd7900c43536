"""An API wired to the real Temporal dev server, a worker, and a fresh SQLite ledger."""

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from dataclasses import field as default
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import Engine
from temporalio.client import Client

from api.app import create_app
from api.auth import sign_request
from config import Settings
from db import partners
from db.engine import read_only, unit_of_work
from db.tables import ShipmentRow, SupplyRow
from domain.errors import UnknownReference
from domain.order_lifecycle import IN_STORE_COLLECTION
from domain.partners import IssuedCredential, PartnerCreate
from worker.main import build_worker

KEYS = {
    "checkout": "test-checkout-key-0123456789",
    "support": "test-support-key-0123456789",
    "admin": "test-admin-key-0123456789",
}
# A checkout bound to the app channel: it sees the app's orders only.
APP_CHECKOUT_KEY = "test-app-checkout-key-0123456789"
SECRET = "test-signing-secret-0123456789abcdef"  # admin's, for field routes
PARTNER_SECRET = "test-partner-secret-0123456789abcdef"
# The partner `auth("warehouse")` and `auth("carrier")` stand for: a node's system at
# DC-LYON, a carrier's for DPD.
DEFAULT_PARTNER = {"warehouse": ("node", "DC-LYON"), "carrier": ("carrier", "DPD")}


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
    credentials: dict[tuple[str, str], IssuedCredential] = default(default_factory=dict)
    clock: TestClock = dataclasses.field(default_factory=TestClock)  # the API's

    def auth(self, role: str | None) -> dict[str, str]:
        if role in DEFAULT_PARTNER:
            return {"Authorization": f"Bearer {self.partner(*DEFAULT_PARTNER[role]).key}"}
        return {"Authorization": f"Bearer {KEYS[role]}"} if role else {}

    def partner(self, kind: str, target: str) -> IssuedCredential:
        """The credential of a field system speaking for this one node or carrier, made
        the first time it is asked for (the admin routes are tested on their own)."""
        if (kind, target) not in self.credentials:
            with unit_of_work(self.engine) as session:
                self.credentials[kind, target] = partners.create(
                    session,
                    PartnerCreate(partner_id=f"{kind}-{target}", kind=kind, ids=[target]),
                    self.settings.partner_key,
                    datetime.now(UTC),
                )
        return self.credentials[kind, target]

    def speaker(self, path: str, raw: bytes) -> tuple[str, str] | None:
        """Who sends this event in the field: the node or carrier it speaks of."""
        parts = path.strip("/").split("/")
        if parts[:2] == ["v1", "nodes"]:
            return "node", parts[2]
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):  # hostile bytes: admin sends them
            body = None
        if parts[:3] == ["v1", "carriers", IN_STORE_COLLECTION] and isinstance(body, dict):
            with read_only(self.engine) as session:  # the store hands the parcel over
                shipment = session.get(ShipmentRow, body.get("shipment_id") or "")
            return ("node", shipment.node_id) if shipment else None
        if parts[:2] == ["v1", "carriers"]:
            return "carrier", parts[2]
        if not isinstance(body, dict):
            return None
        if body.get("carrier_id"):
            return "carrier", body["carrier_id"]
        if body.get("node_id"):
            return "node", body["node_id"]
        if path == "/v1/supply/events" and body.get("supply_id"):
            with read_only(self.engine) as session:
                line = session.get(SupplyRow, body["supply_id"])
            return ("node", line.node_id) if line else None
        return None

    async def get(self, path: str, role: str | None = "support", **kw) -> httpx.Response:
        return await self.http.get(path, headers=self.auth(role), **kw)

    async def post(self, path: str, body, role: str | None = "checkout") -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.auth(role))

    async def field(
        self,
        path: str,
        body,
        role: str | None = None,
        secret: str | None = None,
        at: float | None = None,
        credential: IssuedCredential | None = None,
    ) -> httpx.Response:
        """POST an event as a field system does: its own key, raw body, timestamp and HMAC
        signature with its own secret. Without a role, the partner of the node or carrier
        the event speaks of sends it (admin where the OMS knows no such node or carrier)."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        timestamp = str(int(at if at is not None else time.time()))
        auth, own_secret = self.auth(role or "admin"), SECRET
        speaker = self.speaker(path, raw) if role is None and credential is None else None
        if speaker is not None:
            try:
                credential = self.partner(*speaker)
            except UnknownReference:
                credential = None  # no such node or carrier: admin says it, and hears 404
        if credential is not None:
            auth = {"Authorization": f"Bearer {credential.key}"}
            own_secret = credential.signing_secret
        secret = secret if secret is not None else own_secret
        headers = {
            **auth,
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
        api_keys=",".join(
            [*(f"{role}:{key}" for role, key in KEYS.items()), f"checkout@app:{APP_CHECKOUT_KEY}"]
        ),
        signing_secret=SECRET,
        partner_secret=PARTNER_SECRET,
        task_queue=task_queue,
        database_url=sqlite_url,
    )
    clock = TestClock()
    app = create_app(settings, engine=engine, temporal_client=client, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with build_worker(client, task_queue, engine):
        async with httpx.AsyncClient(transport=transport, base_url="http://oms") as http:
            yield Api(http=http, engine=engine, settings=settings, client=client, clock=clock)

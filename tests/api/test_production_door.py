"""What answers without a key: in development the metrics and the API's document; in
production the metrics only to the scrape key, the document only to a role's key."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from api.app import create_app
from config import Settings
from config.settings import ROLES
from tests.api.conftest import KEYS, SECRET

SCRAPE_KEY = "prometheus-scrape-key-0123456789"


def settings(env: str, metrics_key: str = SCRAPE_KEY) -> Settings:
    dev = Settings(
        api_keys=",".join(f"{role}:{key}" for role, key in KEYS.items() if role in ROLES),
        signing_secret=SECRET,
    )
    # The door reads `env` and the keys; the production checks of the other settings
    # (secrets, PostgreSQL) are tests/api/test_access_control.py's.
    return dev.model_copy(update={"env": env, "metrics_key": SecretStr(metrics_key)})


@asynccontextmanager
async def http(engine: Engine, config: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(config, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://oms") as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_in_development_the_metrics_and_the_document_are_open(engine: Engine):
    async with http(engine, settings("dev")) as client:
        for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
            assert (await client.get(path)).status_code == 200, path


async def test_in_production_the_metrics_answer_the_scrape_key_only(engine: Engine):
    async with http(engine, settings("prod")) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=bearer("wrong"))).status_code == 401
        # Not even admin's: Prometheus' config holds a key that opens nothing but this.
        admin = await client.get("/metrics", headers=bearer(KEYS["admin"]))
        assert admin.status_code == 401
        scraped = await client.get("/metrics", headers=bearer(SCRAPE_KEY))
        assert scraped.status_code == 200 and "oms_orders" in scraped.text
    # No scrape key set: the metrics are off.
    async with http(engine, settings("prod", metrics_key="")) as client:
        assert (await client.get("/metrics", headers=bearer(""))).status_code == 401
        assert (await client.get("/metrics", headers=bearer(SCRAPE_KEY))).status_code == 401


@pytest.mark.parametrize("role", ["checkout", "support", "admin"])
async def test_in_production_the_document_needs_a_key_and_its_pages_are_off(
    engine: Engine, role: str
):
    async with http(engine, settings("prod")) as client:
        for path in ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"):
            refused = await client.get(path)
            assert refused.status_code == 401 and "detail" in refused.json(), path
        document = await client.get("/openapi.json", headers=bearer(KEYS[role]))
        assert document.status_code == 200 and "/v1/orders" in document.json()["paths"]
        # The pages a browser would open, unable to send a key: not served at all.
        for path in ("/docs", "/redoc"):
            assert (await client.get(path, headers=bearer(KEYS[role]))).status_code == 404
        # The scrape key is no role's key: it does not open the document.
        assert (await client.get("/openapi.json", headers=bearer(SCRAPE_KEY))).status_code == 401


def test_production_refuses_a_weak_scrape_key_or_a_roles_key_as_one():
    strong = {role: f"{role}-{'k' * 30}" for role in ROLES}
    good: dict[str, Any] = dict(
        env="prod",
        api_keys=",".join(f"{role}:{key}" for role, key in strong.items()),
        signing_secret="s" * 40,
        option_secret="o" * 40,
        partner_secret="p" * 40,
        database_url="postgresql+psycopg://oms@db/oms",
    )
    Settings(**good, metrics_key=SCRAPE_KEY)
    Settings(**good)  # no scrape key: /metrics is off, which is safe
    for weak in ("short", "test-" + "k" * 30, strong["admin"]):
        with pytest.raises(ValueError, match="OMS_METRICS_KEY") as refused:
            Settings(**good, metrics_key=weak)
        assert weak not in str(refused.value)

"""Customer data encrypted in Temporal's histories (OMS_PAYLOAD_KEYS), on the real dev
server: the API and the worker connect as in production (config/temporal.py), and the
history is read raw, by a client without the keys, as a Temporal operator would."""

import base64
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from config import Settings
from config.payload_codec import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    PayloadKeyError,
    parse_payload_keys,
)
from config.settings import ROLES
from config.temporal import connect_temporal
from tests.api.conftest import KEYS, SECRET, Api
from tests.networks import order_body
from worker.main import build_worker
from workflows.contracts import ORDER_STATE
from workflows.order_messages import OrderState


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@asynccontextmanager
async def oms(
    dev_env: WorkflowEnvironment, engine: Engine, url: str, task_queue: str, payload_keys: str
) -> AsyncIterator[Api]:
    """The API and a worker as `oms api` / `oms worker` make them, with these keys."""
    settings = Settings(
        api_keys=",".join(f"{role}:{key}" for role, key in KEYS.items() if role in ROLES),
        signing_secret=SECRET,
        task_queue=task_queue,
        database_url=url,
        temporal_address=dev_env.client.service_client.config.target_host,
        payload_keys=payload_keys,
    )
    client = await connect_temporal(settings)
    # No client handed to the app: it connects itself, with its own converter.
    app = create_app(settings, engine=engine)
    async with build_worker(client, task_queue, engine):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://oms") as http:
            yield Api(http=http, engine=engine, settings=settings, client=client)


def secret_order(oid: str) -> tuple[dict, list[bytes]]:
    """An order whose customer data is unlike anything else in a history."""
    email = f"{oid.lower()}@private.example"
    body = order_body(oid, [("SKU-1", 1)])
    body["customer"]["email"] = email
    body["delivery"]["address"].update(lat=45.7612345, lon=4.8354321)
    return body, [email.encode(), b"45.7612345", b"4.8354321"]


async def raw_history(plain: Client, oid: str) -> WorkflowHistory:
    return await plain.get_workflow_handle(f"order-{oid}").fetch_history()


def raw_bytes(history: WorkflowHistory) -> bytes:
    return b"".join(event.SerializeToString() for event in history.events)


def order_input(history: WorkflowHistory) -> Payload:
    started = history.events[0].workflow_execution_started_event_attributes
    return started.input.payloads[0]


def key_ids(history: WorkflowHistory) -> set[str]:
    """The key ids of the payloads the workflow's activities were scheduled with."""
    return {
        p.metadata[KEY_ID].decode()
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        for p in e.activity_task_scheduled_event_attributes.input.payloads
    }


async def test_an_order_placed_with_a_payload_key_leaves_no_customer_data_in_temporal(
    dev_env: WorkflowEnvironment, engine: Engine, sqlite_url: str, task_queue: str
):
    oid = f"E-{uuid.uuid4().hex[:8]}"
    body, private = secret_order(oid)
    async with oms(dev_env, engine, sqlite_url, task_queue, f"k1:{new_key()}") as api:
        assert (await api.post("/v1/orders", body)).status_code == 202
        await api.wait_status(oid, "released")  # the API reads the worker's encrypted answer
        history = await raw_history(dev_env.client, oid)
        raw = raw_bytes(history)
        for needle in private:
            assert needle not in raw, needle
        assert order_input(history).metadata["encoding"] == ENCODING
        assert key_ids(history) == {"k1"}
        # Still one order, working end to end: its timeline, then a cancellation (an update).
        timeline = (await api.get(f"/v1/orders/{oid}/history")).json()["events"]
        assert [e["type"] for e in timeline][0] == "placed"
        cancelled = await api.post(f"/v1/orders/{oid}/cancel", {}, role="support")
        assert cancelled.status_code == 200 and cancelled.json()["cancelled"], cancelled.text
        # What the customer gave is whole once decrypted: nothing was lost on the way.
        state = await api.client.get_workflow_handle(f"order-{oid}").query(
            ORDER_STATE, result_type=OrderState
        )
        assert state.view.status == "cancelled"
        assert raw_bytes(await raw_history(dev_env.client, oid)).count(private[0]) == 0


async def test_without_a_payload_key_the_history_holds_the_customer_data_as_before(
    dev_env: WorkflowEnvironment, engine: Engine, sqlite_url: str, task_queue: str
):
    # The check above would see the email if it were there: here it is.
    oid = f"P-{uuid.uuid4().hex[:8]}"
    body, private = secret_order(oid)
    async with oms(dev_env, engine, sqlite_url, task_queue, "") as api:
        assert (await api.post("/v1/orders", body)).status_code == 202
        await api.wait_status(oid, "released")
        raw = raw_bytes(await raw_history(dev_env.client, oid))
    assert all(needle in raw for needle in private)


async def test_a_wrong_key_cannot_read_an_order(
    dev_env: WorkflowEnvironment, engine: Engine, sqlite_url: str, task_queue: str
):
    oid = f"W-{uuid.uuid4().hex[:8]}"
    body, private = secret_order(oid)
    keyring = f"k1:{new_key()}"
    async with oms(dev_env, engine, sqlite_url, task_queue, keyring) as api:
        assert (await api.post("/v1/orders", body)).status_code == 202
        await api.wait_status(oid, "released")
        sealed = order_input(await raw_history(dev_env.client, oid))
        # Another key under the same id, and a keyring without that id.
        for keys in ({"k1": os.urandom(32)}, {"k2": os.urandom(32)}):
            with pytest.raises(PayloadKeyError):
                await EncryptionCodec(keys).decode([sealed])
        # Through Temporal too: the worker answers under k1, and a client holding another
        # k1 cannot read the answer.
        other = api.settings.model_copy(update={"payload_keys": SecretStr(f"k1:{new_key()}")})
        wrong = await connect_temporal(other)
        with pytest.raises(PayloadKeyError):
            await wrong.get_workflow_handle(f"order-{oid}").query(
                ORDER_STATE, result_type=OrderState
            )
        # The right key reads the customer's email back.
        (plain,) = await EncryptionCodec(parse_payload_keys(keyring)).decode([sealed])
        assert private[0] in plain.data


async def test_a_history_written_under_the_old_key_is_read_once_a_new_key_leads(
    dev_env: WorkflowEnvironment, engine: Engine, sqlite_url: str, task_queue: str
):
    oid = f"R-{uuid.uuid4().hex[:8]}"
    body, private = secret_order(oid)
    old, new = f"2026-01:{new_key()}", f"2026-06:{new_key()}"
    async with oms(dev_env, engine, sqlite_url, task_queue, old) as api:
        assert (await api.post("/v1/orders", body)).status_code == 202
        await api.wait_status(oid, "released")
    # Rotation: the new key first, the old one kept to read what it sealed. A new worker
    # has no cached order: it replays the whole history written under the old key.
    async with oms(dev_env, engine, sqlite_url, task_queue, f"{new},{old}") as api:
        assert (await api.get(f"/v1/orders/{oid}")).json()["status"] == "released"
        cancelled = await api.post(f"/v1/orders/{oid}/cancel", {}, role="support")
        assert cancelled.status_code == 200 and cancelled.json()["cancelled"], cancelled.text
        history = await raw_history(dev_env.client, oid)
    # What was written since is sealed with the new key; the customer is still in no clear.
    assert key_ids(history) == {"2026-01", "2026-06"}
    assert order_input(history).metadata[KEY_ID] == b"2026-01"
    assert not any(needle in raw_bytes(history) for needle in private)
    # Dropping the old key too early would strand the order: the new key alone cannot read it.
    with pytest.raises(PayloadKeyError):
        await EncryptionCodec(parse_payload_keys(new)).decode([order_input(history)])


async def test_production_without_a_payload_key_says_so_at_connection(
    dev_env: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
):
    target = dev_env.client.service_client.config.target_host
    plain = Settings(temporal_address=target).model_copy(update={"env": "prod"})
    await connect_temporal(plain)
    assert "OMS_PAYLOAD_KEYS is not set" in caplog.text
    caplog.clear()
    keyed = plain.model_copy(update={"payload_keys": SecretStr(f"k1:{new_key()}")})
    await connect_temporal(keyed)
    assert "OMS_PAYLOAD_KEYS" not in caplog.text

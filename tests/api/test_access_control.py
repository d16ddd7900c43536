"""Every route x every role: only the intended roles get past the door."""

from typing import Any

import pytest

from api.app import create_app
from config import Settings
from tests.api.conftest import KEYS, Api

# warehouse and carrier: partners' keys (a node's system at DC-LYON, a carrier's for DPD).
ROLES = [None, "checkout", "support", "warehouse", "carrier", "admin"]
OPEN = {None, "checkout", "support", "warehouse", "carrier", "admin"}

# (method, path, roles allowed). Bodies are empty: a role let in gets a 422 for the body,
# a role kept out a 401/403 before the body is even read.
SIGNED = "signed"  # field routes: past the role, the signature is checked next
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

# (method, path template, roles allowed). Bodies are empty: a role let in gets a 4xx for
# the body (or, on field routes, for the missing signature); a role kept out gets 401/403.
ROUTES: list[tuple[str, str, set[str | None]]] = [
    ("POST", "/v1/promise", {"checkout", "admin"}),
    ("POST", "/v1/orders", {"checkout", "admin"}),
    ("GET", "/v1/orders", {"checkout", "support", "admin"}),
    ("GET", "/v1/orders/{order_id}", {"checkout", "support", "admin"}),
    ("GET", "/v1/orders/{order_id}/history", {"checkout", "support", "admin"}),
    ("POST", "/v1/orders/{order_id}/cancel", {"checkout", "support", "admin"}),
    ("POST", "/v1/orders/{order_id}/resolve", {"support", "admin"}),
    ("GET", "/v1/exceptions", {"checkout", "support", "admin"}),
    ("GET", "/v1/reports/otif", {"checkout", "support", "admin"}),
    ("GET", "/v1/incidents/{incident_id}", {"checkout", "support", "admin"}),
    ("POST", "/v1/incidents/{incident_id}/lift", {"admin"}),
    ("GET", "/v1/inventory/{sku}", {"checkout", "support", "warehouse", "admin"}),
    ("GET", "/v1/nodes/{node_id}/performance", {"checkout", "support", "warehouse", "admin"}),
    ("POST", "/v1/inventory/events", {"warehouse", "admin", SIGNED}),
    ("POST", "/v1/nodes/{node_id}/events", {"warehouse", "admin", SIGNED}),
    # warehouse too: a store hands click & collect parcels over (carrier COLLECT).
    ("POST", "/v1/carriers/{carrier_id}/events", {"warehouse", "carrier", "admin", SIGNED}),
    ("POST", "/v1/incidents", {"warehouse", "carrier", "admin", SIGNED}),
    ("POST", "/v1/supply/events", {"warehouse", "admin", SIGNED}),
    ("POST", "/v1/admin/network", {"admin"}),
    ("POST", "/v1/admin/partners", {"admin"}),
    ("GET", "/v1/admin/partners", {"admin"}),
    ("GET", "/v1/admin/partners/{partner_id}", {"admin"}),
    ("POST", "/v1/admin/partners/{partner_id}/rotate", {"admin"}),
    ("POST", "/v1/admin/partners/{partner_id}/revoke", {"admin"}),
    ("PUT", "/v1/admin/sourcing-policy", {"admin"}),
    ("GET", "/v1/admin/sourcing-policy", {"admin"}),
    ("GET", "/v1/admin/sourcing-policy/versions", {"admin"}),
    ("GET", "/v1/admin/reconcile", {"admin"}),
    ("POST", "/v1/admin/reconcile", {"admin"}),
    ("GET", "/v1/admin/ledger-check", {"admin"}),
    ("PUT", "/v1/admin/replenishment-policy", {"admin"}),
    ("GET", "/v1/admin/replenishment-policy", {"admin"}),
    ("GET", "/v1/admin/replenishment-policy/versions", {"admin"}),
    ("POST", "/v1/replenishment/run", {"admin"}),
    ("GET", "/v1/replenishment/proposals", {"support", "admin"}),
    ("POST", "/v1/replenishment/proposals/{proposal_id}/approve", {"admin"}),
    ("GET", "/v1/transfers", {"support", "warehouse", "admin"}),
    ("GET", "/v1/transfers/{transfer_id}", {"support", "warehouse", "admin"}),
    ("POST", "/v1/transfers/{transfer_id}/cancel", {"admin"}),
    ("GET", "/healthz", OPEN),
    ("GET", "/livez", OPEN),
]
VALUES = {
    "order_id": "X-1",
    "incident_id": "X-1",
    "sku": "SKU-1",
    "node_id": "DC-LYON",
    "carrier_id": "DPD",
    "proposal_id": "X-1",
    "transfer_id": "X-1",
    "partner_id": "X-1",
}


def test_the_table_covers_every_route():
    app = create_app(Settings(api_keys="admin:" + "k" * 30))
    documented = {
        (method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item
    }
    assert documented == {(method, path) for method, path, _ in ROUTES}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "nobody")
async def test_only_the_intended_roles_pass(api: Api, role: str | None):
    for method, template, allowed in ROUTES:
        path = template.format(**VALUES)
        response = await api.http.request(method, path, headers=api.auth(role))
        if role in allowed and SIGNED in allowed:
            assert response.status_code == 401, (method, path, role)
            assert "X-OMS-Signature" in response.json()["detail"]
        elif role in allowed:
            assert response.status_code not in (401, 403), (method, path, role, response.text)
        else:
            expected = 401 if role is None else 403
            assert response.status_code == expected, (method, path, role, response.text)
            assert "detail" in response.json()


async def test_a_wrong_key_is_refused_everywhere_but_health(api: Api):
    for method, template, allowed in ROUTES:
        if allowed == OPEN:
            continue
        path = template.format(**VALUES)
        response = await api.http.request(method, path, headers={"Authorization": "Bearer x"})
        assert response.status_code == 401, (method, path)


def test_production_refuses_default_or_missing_keys():
    strong = {role: f"{role}-{'k' * 30}" for role in KEYS}
    keys = ",".join(f"{role}:{key}" for role, key in strong.items())
    good: dict[str, Any] = dict(
        env="prod",
        api_keys=keys,
        signing_secret="s" * 40,
        option_secret="o" * 40,
        partner_secret="p" * 40,
        database_url="postgresql+psycopg://oms@db/oms",
    )
    Settings(**good)  # a sound production configuration starts
    with pytest.raises(ValueError, match="no key for roles: support"):
        Settings(
            **{
                **good,
                "api_keys": ",".join(f"{r}:{k}" for r, k in strong.items() if r != "support"),
            }
        )
    with pytest.raises(ValueError, match="at least 24 characters"):
        Settings(**{**good, "api_keys": keys + ",admin:short"})
    with pytest.raises(ValueError, match="OMS_SIGNING_SECRET"):
        Settings(**{**good, "signing_secret": ""})
    with pytest.raises(ValueError, match="PostgreSQL"):
        Settings(**{**good, "database_url": ""})
    # The environment is a closed set: a near miss is refused, not run as development.
    for near_miss in ("production", " prod", "PROD"):
        with pytest.raises(ValueError, match="env"):
            Settings(**{**good, "env": near_miss})
    # Development and test keys never guard production.
    dev = keys.replace(strong["support"], "dev-support-" + "k" * 30)
    with pytest.raises(ValueError, match="support key is a development or test key"):
        Settings(**{**good, "api_keys": dev})
    # One secret per job: the option ids' is its own, the webhooks' too, over https.
    with pytest.raises(ValueError, match="OMS_OPTION_SECRET"):
        Settings(**{**good, "option_secret": ""})
    with pytest.raises(ValueError, match="must differ"):
        Settings(**{**good, "option_secret": good["signing_secret"]})
    with pytest.raises(ValueError, match="OMS_PARTNER_SECRET"):
        Settings(**{**good, "partner_secret": ""})
    with pytest.raises(ValueError, match="must differ"):
        Settings(**{**good, "partner_secret": good["signing_secret"]})
    hook = {"webhook_url": "https://hooks.example/oms", "webhook_secret": WEBHOOK_SECRET}
    Settings(**{**good, **hook})
    with pytest.raises(ValueError, match="https"):
        Settings(**{**good, **hook, "webhook_url": "http://hooks.example/oms"})


def test_webhooks_need_their_own_standard_webhooks_secret():
    with pytest.raises(ValueError, match="OMS_WEBHOOK_URL needs OMS_WEBHOOK_SECRET"):
        Settings(webhook_url="http://127.0.0.1:9000/hook")
    with pytest.raises(ValueError, match="whsec_") as refused:
        Settings(webhook_url="http://127.0.0.1:9000/hook", webhook_secret="not base64 at all!")
    assert "not base64" not in str(refused.value)
    # Option ids are not signed with the field secret, even in development.
    dev = Settings(signing_secret="s" * 40)
    assert dev.option_key not in ("", dev.signing_secret.get_secret_value())
    assert dev.partner_key not in ("", dev.signing_secret.get_secret_value(), dev.option_key)


async def test_a_field_event_signed_with_the_webhook_secret_is_refused(api: Api):
    body = {"event_id": "E-hook", "type": "sale", "sku": "SKU-1", "node_id": "DC-LYON", "qty": 1}

    response = await api.field("/v1/inventory/events", body, secret=WEBHOOK_SECRET)

    assert response.status_code == 401  # a webhook receiver cannot forge a field event


def test_settings_never_show_a_key_or_secret():
    values: dict[str, Any] = {
        "api_keys": "admin:" + "a" * 30,
        "signing_secret": "s1gning-" + "x" * 30,
        "option_secret": "0ption-" + "y" * 30,
        "partner_secret": "partn3r-" + "z" * 30,
        "webhook_secret": WEBHOOK_SECRET,
        "metrics_key": "m3trics-" + "w" * 30,
    }
    settings = Settings(**values)
    shown = f"{settings!r} {settings} {settings.model_dump()} {settings.model_dump_json()}"
    for value in values.values():
        assert value not in shown
        assert str(value).split(":")[-1][:12] not in shown  # not even a part of one


def test_refused_settings_never_print_a_key_or_secret():
    shared = "sh4red"
    with pytest.raises(ValueError, match="one key to two roles") as refused:
        Settings(api_keys=f"checkout:{shared},admin:{shared}")
    assert shared not in str(refused.value)
    with pytest.raises(ValueError, match="OMS_SIGNING_SECRET") as refused:
        Settings(
            env="prod",
            api_keys=",".join(f"{role}:{role}-{'k' * 30}" for role in KEYS),
            signing_secret="s3cret-but-short",
        )
    assert "s3cret" not in str(refused.value)


async def test_keys_and_the_signing_secret_never_reach_logs_or_history(api: Api, caplog):
    import logging
    import uuid

    from tests.api.conftest import SECRET
    from tests.networks import order_body

    caplog.set_level(logging.DEBUG)
    oid = f"S-{uuid.uuid4().hex[:6]}"
    await api.post("/v1/orders", order_body(oid, [("SKU-1", 1)]))
    await api.wait_status(oid, "released")
    await api.http.get("/v1/orders", headers={"Authorization": f"Bearer {KEYS['admin']}x"})
    event = {
        "event_id": uuid.uuid4().hex,
        "type": "picked",
        "order_id": oid,
        "shipment_id": f"{oid}-S1",
    }
    await api.field("/v1/nodes/DC-LYON/events", event)
    await api.field("/v1/nodes/DC-LYON/events", event, secret="forged-" + SECRET)
    history = (await api.get(f"/v1/orders/{oid}/history")).text
    partner = api.partner("node", "DC-LYON")
    for secret in [*KEYS.values(), SECRET, partner.key, partner.signing_secret]:
        assert secret not in caplog.text
        assert secret not in history


async def test_the_api_document_says_how_to_call_it(api: Api):
    document = (await api.http.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    place = document["paths"]["/v1/orders"]["post"]
    assert place["operationId"] == "place_order" and place["security"] == [{"HTTPBearer": []}]
    node_event = document["paths"]["/v1/nodes/{node_id}/events"]["post"]
    headers = {p["name"] for p in node_event["parameters"] if p["in"] == "header"}
    assert headers == {"x-oms-timestamp", "x-oms-signature"}
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))

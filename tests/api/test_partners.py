"""Each field system acts only as itself: partners' own keys and secrets, their scope, and
the admin routes that create, rotate and revoke them (real API, worker, Temporal)."""

import uuid
from datetime import UTC, datetime

from sqlmodel import select

from db import ledger
from db.engine import read_only
from db.tables import IncidentRow, PartnerCredentialRow, PartnerRow
from domain.partners import IssuedCredential
from tests.api.conftest import SECRET, Api
from tests.api.test_field_events_api import carrier_event, lyon, node_event, released_order

ADMIN = "admin"


async def create(api: Api, partner_id: str, kind: str, ids: list[str]) -> IssuedCredential:
    answer = await api.post(
        "/v1/admin/partners", {"partner_id": partner_id, "kind": kind, "ids": ids}, role=ADMIN
    )
    assert answer.status_code == 201, answer.text
    return IssuedCredential.model_validate(answer.json())


def count(node_id: str, qty: int, sku: str = "SKU-1") -> dict:
    return {"event_id": uuid.uuid4().hex, "type": "count", "sku": sku, "node_id": node_id,
            "qty": qty}  # fmt: skip


def on_hand(api: Api, node_id: str, sku: str = "SKU-1") -> int:
    with read_only(api.engine) as session:
        return {p.node_id: p.on_hand for p in ledger.positions(session, sku)}[node_id]


def now_text() -> str:
    return datetime.now(UTC).isoformat()


async def test_a_partner_gets_its_key_and_secret_once_and_the_oms_keeps_neither(api: Api):
    issued = await create(api, "lyon-wms", "node", ["DC-LYON"])

    assert issued.key.startswith("pk_") and issued.signing_secret
    listed = (await api.get("/v1/admin/partners", role=ADMIN)).text
    one = (await api.get("/v1/admin/partners/lyon-wms", role=ADMIN)).json()
    assert issued.key not in listed and issued.signing_secret not in listed
    assert one["ids"] == ["DC-LYON"] and one["credentials"][0]["live"] is True
    with read_only(api.engine) as session:
        rows = [
            *session.exec(select(PartnerRow)).all(),
            *session.exec(select(PartnerCredentialRow)).all(),
        ]
    stored = " ".join(row.model_dump_json() for row in rows)
    assert issued.key not in stored and issued.signing_secret not in stored
    # It works: a count at its own node applies.
    response = await api.field("/v1/inventory/events", count("DC-LYON", 31), credential=issued)
    assert response.status_code == 200, response.text
    assert on_hand(api, "DC-LYON") == 31


async def test_a_node_system_cannot_speak_for_another_node(api: Api):
    oid, shipment = await released_order(api)
    lyon_wms = await create(api, "lyon-wms", "node", ["DC-LYON"])
    paris_wms = await create(api, "paris-wms", "node", ["DC-PARIS"])
    sid = shipment["shipment_id"]
    assert shipment["node_id"] == "DC-LYON"

    # Paris's system ships Lyon's shipment, zeroes Lyon's stock, adds phantom units there.
    shipped = await api.field(
        "/v1/nodes/DC-LYON/events", node_event("shipped", oid, sid), credential=paris_wms
    )
    zeroed = await api.field("/v1/inventory/events", count("DC-LYON", 0), credential=paris_wms)
    phantom = {**count("DC-LYON", 0), "type": "receipt", "qty": 100_000_000}
    inflated = await api.field("/v1/inventory/events", phantom, credential=paris_wms)

    assert [r.status_code for r in (shipped, zeroed, inflated)] == [403, 403, 403]
    assert "paris-wms does not speak for node DC-LYON" in shipped.json()["detail"]
    assert (await api.get(f"/v1/orders/{oid}")).json()["status"] == "released"
    assert lyon(api) == (30, 2)
    # Lyon's own system still can.
    own = await api.field(
        "/v1/nodes/DC-LYON/events", node_event("picked", oid, sid), credential=lyon_wms
    )
    assert own.status_code == 202
    await api.wait_status(oid, "picked")


async def test_a_carrier_system_speaks_only_for_its_own_shipments(api: Api):
    oid, shipment = await released_order(api)
    sid, carrier = shipment["shipment_id"], shipment["carrier_id"]
    await api.field("/v1/nodes/DC-LYON/events", node_event("shipped", oid, sid))
    await api.wait_status(oid, "shipped")
    other = "DPD" if carrier != "DPD" else "COLISSIMO"
    rival = await create(api, f"{other.lower()}-api", "carrier", [other])
    mine = await create(api, f"{carrier.lower()}-api", "carrier", [carrier])
    node_system = await create(api, "lyon-wms", "node", ["DC-LYON"])

    delivered = carrier_event("delivered", sid, now_text())
    by_rival = await api.field(f"/v1/carriers/{carrier}/events", delivered, credential=rival)
    by_node = await api.field(f"/v1/carriers/{carrier}/events", delivered, credential=node_system)
    # Under its own URL the rival is told the shipment is not its.
    own_url = await api.field(f"/v1/carriers/{other}/events", delivered, credential=rival)

    assert (by_rival.status_code, by_node.status_code, own_url.status_code) == (403, 403, 422)
    assert (await api.get(f"/v1/orders/{oid}")).json()["status"] == "shipped"
    ok = await api.field(f"/v1/carriers/{carrier}/events", delivered, credential=mine)
    assert ok.status_code == 202
    await api.wait_status(oid, "delivered")


async def test_incidents_come_only_from_the_node_or_carrier_they_are_about(api: Api):
    dpd = await create(api, "dpd-api", "carrier", ["DPD"])
    lyon_wms = await create(api, "lyon-wms", "node", ["DC-LYON"])
    today = datetime.now(UTC).date().isoformat()

    def outage(carrier_id: str) -> dict:
        return {"incident_id": uuid.uuid4().hex, "type": "carrier_outage",
                "carrier_id": carrier_id, "from": today, "to": today}  # fmt: skip

    closure = {"incident_id": uuid.uuid4().hex, "type": "node_closed", "node_id": "DC-PARIS",
               "from": today, "to": today}  # fmt: skip
    refused = [
        await api.field("/v1/incidents", outage("COLISSIMO"), credential=dpd),
        await api.field("/v1/incidents", outage("DPD"), credential=lyon_wms),
        await api.field("/v1/incidents", closure, credential=lyon_wms),
        await api.field("/v1/incidents", closure, credential=dpd),
    ]
    assert [r.status_code for r in refused] == [403] * 4
    with read_only(api.engine) as session:
        assert session.exec(select(IncidentRow)).all() == []  # nothing recorded
    own = await api.field("/v1/incidents", outage("DPD"), credential=dpd)
    assert own.status_code == 202, own.text
    by_admin = await api.field("/v1/incidents", closure, role=ADMIN)
    assert by_admin.status_code == 202, by_admin.text


async def test_a_partner_signs_with_its_own_secret_only(api: Api):
    lyon_wms = await create(api, "lyon-wms", "node", ["DC-LYON"])
    paris_wms = await create(api, "paris-wms", "node", ["DC-PARIS"])
    body = count("DC-LYON", 12)

    with_admins = await api.field("/v1/inventory/events", body, credential=lyon_wms, secret=SECRET)
    with_paris = await api.field(
        "/v1/inventory/events", body, credential=lyon_wms, secret=paris_wms.signing_secret
    )

    assert (with_admins.status_code, with_paris.status_code) == (401, 401)
    assert on_hand(api, "DC-LYON") == 30


async def test_an_integration_speaks_for_every_node_it_lists_and_no_other(api: Api):
    wms = await create(api, "dc-wms", "node", ["DC-LYON", "DC-PARIS"])

    lyon_ok = await api.field("/v1/inventory/events", count("DC-LYON", 29), credential=wms)
    paris_ok = await api.field("/v1/inventory/events", count("DC-PARIS", 49), credential=wms)
    store = await api.field(
        "/v1/inventory/events", count("STORE-LILLE", 0, "SKU-3"), credential=wms
    )

    assert (lyon_ok.status_code, paris_ok.status_code, store.status_code) == (200, 200, 403)
    assert (on_hand(api, "DC-LYON"), on_hand(api, "DC-PARIS")) == (29, 49)
    assert on_hand(api, "STORE-LILLE", "SKU-3") == 8


async def test_a_rotation_keeps_both_credentials_live_for_its_grace_then_only_the_new(
    api: Api,
):
    old = await create(api, "lyon-wms", "node", ["DC-LYON"])

    rotated = await api.post("/v1/admin/partners/lyon-wms/rotate", {}, role=ADMIN)
    new = IssuedCredential.model_validate(rotated.json())

    assert new.key != old.key and new.signing_secret != old.signing_secret
    assert new.previous_expire_at is not None
    for credential in (old, new):  # during the grace: both keys with their own secrets
        sent = await api.field("/v1/inventory/events", count("DC-LYON", 30), credential=credential)
        assert sent.status_code == 200, sent.text
    crossed = await api.field(
        "/v1/inventory/events", count("DC-LYON", 30), credential=old, secret=new.signing_secret
    )
    assert crossed.status_code == 401  # a key goes with its own secret
    # A rotation without grace retires every older credential at once.
    again = await api.post("/v1/admin/partners/lyon-wms/rotate", {"grace_hours": 0}, role=ADMIN)
    newest = IssuedCredential.model_validate(again.json())
    for retired in (old, new):
        sent = await api.field("/v1/inventory/events", count("DC-LYON", 1), credential=retired)
        assert sent.status_code == 401
    assert on_hand(api, "DC-LYON") == 30
    sent = await api.field("/v1/inventory/events", count("DC-LYON", 30), credential=newest)
    assert sent.status_code == 200
    view = (await api.get("/v1/admin/partners/lyon-wms", role=ADMIN)).json()
    assert [c["live"] for c in view["credentials"]] == [False, False, True]


async def test_a_revoked_partner_is_refused_at_once_and_for_good(api: Api):
    old = await create(api, "lyon-wms", "node", ["DC-LYON"])
    rotated = await api.post("/v1/admin/partners/lyon-wms/rotate", {}, role=ADMIN)
    new = IssuedCredential.model_validate(rotated.json())

    revoked = await api.post("/v1/admin/partners/lyon-wms/revoke", {}, role=ADMIN)
    twice = await api.post("/v1/admin/partners/lyon-wms/revoke", {}, role=ADMIN)

    assert revoked.status_code == twice.status_code == 200
    assert twice.json()["revoked_at"] == revoked.json()["revoked_at"]
    for credential in (old, new):
        sent = await api.field("/v1/inventory/events", count("DC-LYON", 0), credential=credential)
        assert sent.status_code == 401
        read = await api.http.get(
            "/v1/inventory/SKU-1", headers={"Authorization": f"Bearer {credential.key}"}
        )
        assert read.status_code == 401
    assert on_hand(api, "DC-LYON") == 30
    reissue = await api.post("/v1/admin/partners/lyon-wms/rotate", {}, role=ADMIN)
    assert reissue.status_code == 409


async def test_bad_partner_requests_are_refused_and_change_nothing(api: Api):
    await create(api, "lyon-wms", "node", ["DC-LYON"])
    cases = [
        ({"partner_id": "lyon-wms", "kind": "node", "ids": ["DC-PARIS"]}, 409),
        ({"partner_id": "x", "kind": "node", "ids": ["DC-NOWHERE"]}, 422),
        ({"partner_id": "x", "kind": "carrier", "ids": ["DC-LYON"]}, 422),  # not a carrier
        ({"partner_id": "x", "kind": "node", "ids": []}, 422),
        ({"partner_id": "x", "kind": "node", "ids": ["DC-LYON", "DC-LYON"]}, 422),
        ({"partner_id": "x", "kind": "customer", "ids": ["DC-LYON"]}, 422),
        ({"partner_id": "x" * 100, "kind": "node", "ids": ["DC-LYON"]}, 422),
    ]
    for body, code in cases:
        answer = await api.post("/v1/admin/partners", body, role=ADMIN)
        assert answer.status_code == code, (body, answer.text)
    by_support = await api.post(
        "/v1/admin/partners", {"partner_id": "y", "kind": "node", "ids": ["DC-LYON"]}, "support"
    )
    assert by_support.status_code == 403
    assert (await api.post("/v1/admin/partners/nobody/rotate", {}, role=ADMIN)).status_code == 404
    long_grace = await api.post(
        "/v1/admin/partners/lyon-wms/rotate", {"grace_hours": 10_000}, role=ADMIN
    )
    assert long_grace.status_code == 422
    listed = (await api.get("/v1/admin/partners", role=ADMIN)).json()["partners"]
    assert [(p["partner_id"], len(p["credentials"])) for p in listed] == [("lyon-wms", 1)]


async def test_supply_lines_of_another_node_are_not_a_partners_to_touch(api: Api):
    paris_wms = await create(api, "paris-wms", "node", ["DC-PARIS"])
    lyon_wms = await create(api, "lyon-wms", "node", ["DC-LYON"])
    eta = datetime.now(UTC).date().isoformat()
    opened = {"event_id": uuid.uuid4().hex, "type": "po_created", "supply_id": "PO-L1",
              "sku": "SKU-1", "node_id": "DC-LYON", "qty": 40, "eta": eta}  # fmt: skip

    elsewhere = await api.field("/v1/supply/events", opened, credential=paris_wms)
    own = await api.field("/v1/supply/events", opened, credential=lyon_wms)
    cancelled = {"event_id": uuid.uuid4().hex, "type": "po_cancelled", "supply_id": "PO-L1"}
    by_paris = await api.field("/v1/supply/events", cancelled, credential=paris_wms)

    assert (elsewhere.status_code, own.status_code, by_paris.status_code) == (403, 200, 403)
    supply = (await api.get("/v1/inventory/SKU-1")).json()["supply"]
    assert [(s["supply_id"], s["expected"]) for s in supply] == [("PO-L1", 40)]


async def test_one_partners_event_ids_never_use_up_anothers(api: Api):
    lyon_wms = await create(api, "lyon-wms", "node", ["DC-LYON"])
    paris_wms = await create(api, "paris-wms", "node", ["DC-PARIS"])
    # Paris's system sends first an id Lyon's will use too (guessed, or by chance).
    squat = {**count("DC-PARIS", 49), "event_id": "EV-1001"}
    own = {**count("DC-LYON", 29), "event_id": "EV-1001"}

    first = await api.field("/v1/inventory/events", squat, credential=paris_wms)
    second = await api.field("/v1/inventory/events", own, credential=lyon_wms)

    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert second.json()["applied"] is True
    assert (on_hand(api, "DC-PARIS"), on_hand(api, "DC-LYON")) == (49, 29)


async def test_a_node_system_reads_about_its_own_nodes_only(api: Api):
    lyon_wms = await create(api, "lyon-wms", "node", ["DC-LYON"])
    as_lyon = {"Authorization": f"Bearer {lyon_wms.key}"}

    stock = (await api.http.get("/v1/inventory/SKU-1", headers=as_lyon)).json()
    own = await api.http.get("/v1/nodes/DC-LYON/performance", headers=as_lyon)
    other = await api.http.get("/v1/nodes/DC-PARIS/performance", headers=as_lyon)
    transfers_own = await api.http.get("/v1/transfers", headers=as_lyon)
    transfers_other = await api.http.get("/v1/transfers?node_id=DC-PARIS", headers=as_lyon)

    assert [n["node_id"] for n in stock["nodes"]] == ["DC-LYON"] and stock["atp"] == 30
    assert (own.status_code, other.status_code) == (200, 403)
    assert (transfers_own.status_code, transfers_other.status_code) == (200, 403)
    # The retailer's own staff read every node.
    everyone = (await api.get("/v1/inventory/SKU-1")).json()
    assert {n["node_id"] for n in everyone["nodes"]} == {"DC-LYON", "DC-PARIS"}

"""What the OMS learned of a node, by HTTP; what the retailer may configure for it."""

from tests.api.conftest import Api
from tests.api.test_field_events_api import node_event, released_order
from tests.networks import small_network


async def test_a_nodes_performance_counts_what_it_shipped_and_what_waits(api: Api):
    shipped_oid, shipped = await released_order(api)
    await released_order(api)  # released, not picked: it waits at the node
    sid = shipped["shipment_id"]
    event = node_event("shipped", shipped_oid, sid)
    assert (await api.field("/v1/nodes/DC-LYON/events", event)).status_code == 202
    await api.wait_status(shipped_oid, "shipped")

    answer = await api.get("/v1/nodes/DC-LYON/performance")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["node_id"] == "DC-LYON" and body["cutoff"] == "15:00:00"
    assert body["figures"]["shipments"] == 1 and body["figures"]["backlog"] == 1
    # One shipment teaches nothing yet: the configured preparation time is planned with.
    assert body["ship"]["learned"] is False
    assert body["ship"]["hours_at_confidence"] == body["configured_preparation_hours"] == 0
    assert body["confidence"] == 0.97


async def test_an_unknown_nodes_performance_is_a_404(api: Api):
    answer = await api.get("/v1/nodes/NOWHERE/performance")
    assert answer.status_code == 404
    assert answer.json()["detail"] == "unknown node NOWHERE"


async def test_a_preparation_time_out_of_range_is_a_422_naming_the_field(api: Api):
    network = small_network()
    network["nodes"][0]["preparation_hours"] = 500
    answer = await api.post("/v1/admin/network", network, role="admin")
    assert answer.status_code == 422
    assert "preparation_hours" in answer.text


async def test_a_promise_confidence_out_of_range_is_a_422_naming_the_field(api: Api):
    policy = {"name": "too-sure", "promise_confidence": 1.5}
    answer = await api.http.put("/v1/admin/sourcing-policy", json=policy, headers=api.auth("admin"))
    assert answer.status_code == 422
    assert "promise_confidence" in answer.text
    current = await api.http.get("/v1/admin/sourcing-policy", headers=api.auth("admin"))
    assert current.json()["name"] != "too-sure"  # nothing changed

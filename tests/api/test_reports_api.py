"""OTIF report and metrics by HTTP, on orders that really went through."""

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.api.conftest import Api
from tests.api.test_incidents_api import deliver_everything, released
from tests.networks import day, moments_ago, order_body


async def test_otif_report_and_metrics_follow_real_orders(api: Api):
    [on_time] = await released(api, [("SKU-1", 1)])
    await deliver_everything(api, on_time, moments_ago())
    # A late delivery has happened by now: an order placed three days ago, promised for
    # the day before yesterday, delivered today.
    promised_late = datetime.now(ZoneInfo("Europe/Paris")).date() - timedelta(days=2)
    late = f"R-{uuid.uuid4().hex[:6]}"
    api.clock.set(datetime.now(UTC) - timedelta(days=3))
    body = order_body(late, [("SKU-1", 1)], promised_by=promised_late.isoformat())
    assert (await api.post("/v1/orders", body)).status_code == 202
    await api.wait_status(late, "released")
    api.clock.set(None)
    assert not (await deliver_everything(api, late, moments_ago()))["otif"]["on_time"]
    cancelled = f"R-{uuid.uuid4().hex[:6]}"
    await api.post("/v1/orders", order_body(cancelled, [("SKU-1", 1)]))
    await api.wait_status(cancelled, "released")
    await api.post(f"/v1/orders/{cancelled}/cancel", {"reason": "test"}, role="support")
    await api.wait_status(cancelled, "cancelled")

    params = {"from": promised_late.isoformat(), "to": day(), "group_by": "cause"}
    report = (await api.get("/v1/reports/otif", params=params)).json()
    assert report["excluded_cancelled"] >= 1
    assert report["orders"] >= 2
    causes = {row["key"]: row["orders"] for row in report["rows"]}
    assert (
        causes.get("otif", 0) >= 1 and causes.get("carrier_delay", 0) + causes.get("other", 0) >= 1
    )
    bad = await api.get("/v1/reports/otif", params={"from": day(), "to": day(-30)})
    assert bad.status_code == 422

    await api.post(
        "/v1/promise",
        {
            "lines": [{"sku": "SKU-1", "qty": 1}],
            "destination": {"postal_code": "69001", "country": "FR", "lat": 45.76, "lon": 4.83},
        },
    )
    metrics = (await api.http.get("/metrics")).text
    assert 'oms_orders{status="delivered"}' in metrics
    assert "oms_promise_seconds_count" in metrics
    # Each route timed under its template, never an order id of its own.
    timed = (
        'oms_http_request_seconds_count{method="GET",route="/v1/orders/{order_id}",status="200"}'
    )
    assert timed in metrics
    assert 'route="/v1/orders/R-' not in metrics
    refused = await api.http.get("/v1/orders")  # no key: the door says no before routing
    assert refused.status_code == 401
    metrics = (await api.http.get("/metrics")).text
    assert 'oms_http_request_seconds_count{method="GET",route="unrouted",status="401"}' in metrics

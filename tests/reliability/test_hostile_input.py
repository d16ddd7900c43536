"""Hostile input: malformed, huge and duplicated payloads at the network loader and the
field endpoints get a clear 4xx and write nothing; no input makes the API answer 5xx."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import func, select

from db import ledger
from db.engine import unit_of_work
from db.tables import MovementRow, NodeRow, ProcessedEventRow, SkuRow
from tests.api.conftest import Api
from tests.networks import small_network

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELD_PATHS = [
    "/v1/inventory/events",
    "/v1/nodes/DC-LYON/events",
    "/v1/carriers/DPD/events",
    "/v1/incidents",
]


def footprint(api: Api) -> tuple:
    """Everything a bad request must not change."""
    with unit_of_work(api.engine) as session:
        return (
            session.exec(select(func.count()).select_from(MovementRow)).one(),
            session.exec(select(func.count()).select_from(ProcessedEventRow)).one(),
            session.exec(select(func.count()).select_from(NodeRow)).one(),
            session.exec(select(func.count()).select_from(SkuRow)).one(),
            tuple((p.on_hand, p.reserved) for p in ledger.positions(session, "SKU-1")),
        )


async def test_random_json_at_every_write_route_is_a_4xx_and_changes_nothing(api: Api):
    before = footprint(api)

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        body=JSON,
        path=st.sampled_from(FIELD_PATHS + ["/v1/admin/network", "/v1/orders", "/v1/promise"]),
    )
    def probe(body, path):
        calls.append((path, body))

    calls: list = []
    probe()
    for path, body in calls:
        if path in FIELD_PATHS:
            response = await api.field(path, json.dumps(body).encode())
        else:  # raw bytes: a hostile client may send Infinity or NaN, which httpx refuses
            role = "admin" if path.startswith("/v1/admin") else "checkout"
            headers = {**api.auth(role), "Content-Type": "application/json"}
            response = await api.http.post(path, content=json.dumps(body).encode(), headers=headers)
        assert 400 <= response.status_code < 500, (path, body, response.text)
        assert "detail" in response.json()
    assert footprint(api) == before


async def test_broken_bytes_are_refused(api: Api):
    before = footprint(api)
    for raw in [
        b"",
        b"{",
        b"\xff\xfe\x00",
        b'{"a": 1}' * 1000,
        b"[" * 5000 + b"]" * 5000,
        b'{"event_id": "\\ud800"}',
        b"null",
        b'"text"',
    ]:
        for path in FIELD_PATHS:
            response = await api.field(path, raw)
            assert 400 <= response.status_code < 500, (path, raw[:20], response.text)
    assert footprint(api) == before


async def test_a_huge_network_document_is_refused_whole(api: Api):
    before = footprint(api)
    network = small_network()
    network["skus"] += [{"sku": f"SKU-Z{n}", "name": "x" * 150} for n in range(20_000)]
    network["stock"].append({"sku": "SKU-NOPE", "node_id": "DC-LYON", "on_hand": 1})
    response = await api.post("/v1/admin/network", network, role="admin")
    assert response.status_code == 422 and "SKU-NOPE" in response.json()["detail"]
    assert footprint(api) == before  # 20,000 valid SKUs before the bad row: none written

    oversized = await api.http.post(
        "/v1/admin/network",
        content=b" " * (65 * 1024 * 1024),
        headers={**api.auth("admin"), "Content-Type": "application/json"},
    )
    assert oversized.status_code == 413


async def test_duplicated_payloads_apply_once(api: Api):
    event = {
        "event_id": "DUP-1",
        "type": "receipt",
        "sku": "SKU-1",
        "node_id": "DC-PARIS",
        "qty": 3,
    }
    answers = [await api.field("/v1/inventory/events", event) for _ in range(5)]
    assert [a.json()["applied"] for a in answers] == [True, False, False, False, False]
    network = small_network()
    first = await api.post("/v1/admin/network", network, role="admin")
    second = await api.post("/v1/admin/network", network, role="admin")
    assert first.status_code == second.status_code == 200
    with unit_of_work(api.engine) as session:
        paris = {p.node_id: p for p in ledger.positions(session, "SKU-1")}["DC-PARIS"]
        assert paris.on_hand == 50  # the network says 50: loading it twice sets, not adds
        assert ledger.balance_problems(session) == []


async def test_infinity_or_nan_in_a_bad_body_is_a_4xx(api: Api):
    # Python's JSON reader takes Infinity and NaN; the error echoing them must still be JSON.
    for raw in (b'{"qty": Infinity}', b'{"event_id": NaN}', b"[-Infinity]"):
        response = await api.field("/v1/inventory/events", raw)
        assert response.status_code == 422, response.text
    response = await api.http.post(
        "/v1/promise",
        content=b'{"lines": [{"sku": "SKU-1", "qty": Infinity}]}',
        headers={**api.auth("checkout"), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text


class Chunks:
    """A chunked body (no Content-Length) of `count` chunks of 1 MiB, counting how many
    the server asked for."""

    def __init__(self, count: int):
        self.count = count
        self.read = 0

    async def __aiter__(self):
        for _ in range(self.count):
            self.read += 1
            yield b" " * (1024 * 1024)


async def test_a_caller_without_a_key_is_refused_before_its_body_is_read(api: Api):
    body = Chunks(200)  # 200 MiB, chunked
    response = await api.http.post(
        "/v1/orders", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert body.read <= 1  # at most what the transport sent with the headers


async def test_a_chunked_body_past_its_routes_limit_is_refused_as_it_streams(api: Api):
    for path, role, chunks in (
        ("/v1/orders", "checkout", 200),  # small routes: 1 MiB
        ("/v1/promise", "checkout", 200),
        ("/v1/nodes/DC-LYON/events", "warehouse", 200),
        ("/v1/admin/network", "admin", 200),  # the network document: 64 MiB
    ):
        body = Chunks(chunks)
        response = await api.http.post(
            path, content=body, headers={**api.auth(role), "Content-Type": "application/json"}
        )
        assert response.status_code == 413, (path, response.text)
        limit_mib = 64 if path == "/v1/admin/network" else 1
        assert body.read <= limit_mib + 1, (path, body.read)  # never the whole 200 MiB

"""Schemathesis against the running API's own OpenAPI document, with every role's key:
no 5xx, and every answer conforms to the schema (status, content type, body)."""

import json
import os
import time
from urllib.parse import urlsplit

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err

from api.auth import sign_request
from tests.e2e.test_end_to_end import (  # noqa: F401  (oms: the running OMS)
    KEYS,
    SECRET,
    make_partner,
    oms,
)
from tests.networks import small_network

pytestmark = pytest.mark.e2e

ROLES = [None, "checkout", "support", "warehouse", "carrier", "admin"]
SIGNED = {
    "/v1/inventory/events",
    "/v1/nodes/{node_id}/events",
    "/v1/carriers/{carrier_id}/events",
    "/v1/incidents",
    "/v1/supply/events",
}
EXAMPLES = 20
# What the issue asks: no 5xx and no answer outside the schema. (Schema-valid bodies that a
# business rule refuses, e.g. home delivery without an address, are rightly a 422.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def test_no_input_breaks_the_api_or_its_schema(oms: httpx.Client):  # noqa: F811
    base = str(oms.base_url).rstrip("/")
    loaded = oms.post(
        "/v1/admin/network",
        json=small_network(),
        headers={"Authorization": f"Bearer {KEYS['admin']}"},
    )
    assert loaded.status_code == 200
    # The field systems: one for every node of the network, one for every carrier.
    network = small_network()
    nodes = make_partner(oms, "fuzz-nodes", "node", [n["id"] for n in network["nodes"]])
    carriers = make_partner(oms, "fuzz-carriers", "carrier", [c["id"] for c in network["carriers"]])
    credentials = {role: (key, SECRET) for role, key in KEYS.items()}
    credentials["warehouse"] = (nodes["key"], nodes["signing_secret"])
    credentials["carrier"] = (carriers["key"], carriers["signing_secret"])
    schema = schemathesis.openapi.from_dict(oms.get("/openapi.json").json())
    session = requests.Session()
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(f"the API's schema holds an operation it cannot describe: {result.err()}")
        operation = result.ok()
        for role in ROLES:
            credential = credentials[role] if role else None
            calls += _fuzz(operation, role, credential, base, session, failures)
    assert calls > 500
    assert failures == [], "\n".join(sorted(set(failures))[:20])


def _fuzz(operation, role, credential, base: str, session, failures: list[str]) -> int:
    """Hypothesis cases for one operation as one role; failures collected, not raised."""
    key, secret = credential or ("", "")
    headers = {"Authorization": f"Bearer {key}"} if credential else {}
    calls = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=bool(os.environ.get("CI")),
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def probe(case):
        nonlocal calls
        calls += 1
        try:
            if operation.path in SIGNED:
                kwargs = case.as_transport_kwargs(base_url=base, headers=headers)
                raw = json.dumps(kwargs.pop("json", None)).encode()
                stamp = str(int(time.time()))
                kwargs["headers"] = {
                    **kwargs.get("headers", {}),
                    "Content-Type": "application/json",
                    "X-OMS-Timestamp": stamp,
                    "X-OMS-Signature": "sha256="
                    + sign_request(
                        secret, stamp, kwargs["method"], urlsplit(kwargs["url"]).path, raw
                    ),
                }
                response = session.request(**kwargs, data=raw, timeout=30)
                case.validate_response(response, checks=CHECKS)
            else:
                case.call_and_validate(
                    base_url=base, session=session, headers=headers, checks=CHECKS
                )
        except Exception as exc:  # every kind of failure is collected, then reported
            failures.append(f"{operation.label} as {role}: {str(exc)[:400]}")

    probe()
    return calls

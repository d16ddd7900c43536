"""How the simulated checkout, field systems and support agents talk to the OMS: its HTTP
API, with their own keys; each node's and carrier's system as a partner of its own, with
its own key and signing secret, as in the field."""

import asyncio
import json
import logging
import time
from typing import Any

import httpx

from api.auth import sign_request

log = logging.getLogger("oms.simulator")


Speaker = tuple[str, str]  # ("node", node id) or ("carrier", carrier id)


class OmsClient:
    def __init__(self, http: httpx.AsyncClient, keys: dict[str, str]):
        self.http = http
        self.keys = keys  # role -> key
        self.partners: dict[Speaker, tuple[str, str]] = {}  # -> its key, its signing secret
        self.refused = 0  # 4xx answers: calls the OMS turned down (e.g. a shipment taken back)
        self.failed = 0  # 5xx answers, after retries

    async def register_partners(self, nodes: list[str], carriers: list[str]) -> None:
        """One partner per node and per carrier, made by the admin as a retailer would."""
        for kind, ids in (("node", nodes), ("carrier", carriers)):
            for target in ids:
                if (kind, target) in self.partners:
                    continue
                body = {"partner_id": f"sim-{kind}-{target}", "kind": kind, "ids": [target]}
                status, issued = await self.post("/v1/admin/partners", body, role="admin")
                if status != 201:
                    raise RuntimeError(f"partner {body['partner_id']} was refused: {issued}")
                self.partners[kind, target] = (issued["key"], issued["signing_secret"])

    async def field(self, path: str, body: Any, speaker: Speaker) -> tuple[int, Any]:
        """An event from the field system of this node or carrier, signed with its secret."""
        return await self.call("POST", path, body, speaker=speaker)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        role: str = "checkout",
        speaker: Speaker | None = None,
    ) -> tuple[int, Any]:
        key, secret = self.partners[speaker] if speaker else (self.keys[role], "")
        headers = {"Authorization": f"Bearer {key}"}
        content = None
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
            if speaker:
                stamp = str(int(time.time()))
                headers["X-OMS-Timestamp"] = stamp
                headers["X-OMS-Signature"] = "sha256=" + sign_request(
                    secret, stamp, method, path, content
                )
        for wait in (0.5, 2.0, 5.0, None):  # a busy OMS may answer 503: try again, as clients do
            response = await self.http.request(method, path, content=content, headers=headers)
            if response.status_code < 500 or wait is None:
                break
            await asyncio.sleep(wait)
        if response.status_code >= 500:
            self.failed += 1
            log.warning("%s %s: %s %s", method, path, response.status_code, response.text[:300])
        elif response.status_code >= 400:
            self.refused += 1
        return response.status_code, response.json() if response.content else None

    async def post(self, path: str, body: Any, role: str = "checkout") -> tuple[int, Any]:
        return await self.call("POST", path, body, role)

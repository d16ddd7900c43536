"""How the simulated checkout, field systems and support agents talk to the OMS: its HTTP
API, with their own keys, and the field's signature on events."""

import asyncio
import json
import logging
import time
from typing import Any

import httpx

from api.auth import sign_request

log = logging.getLogger("oms.simulator")


class OmsClient:
    def __init__(self, http: httpx.AsyncClient, keys: dict[str, str], signing_secret: str):
        self.http = http
        self.keys = keys  # role -> key
        self.secret = signing_secret
        self.refused = 0  # 4xx answers: calls the OMS turned down (e.g. a shipment taken back)
        self.failed = 0  # 5xx answers, after retries

    async def call(
        self, method: str, path: str, body: Any = None, role: str = "checkout"
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        content = None
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
            if role == "warehouse":
                stamp = str(int(time.time()))
                headers["X-OMS-Timestamp"] = stamp
                headers["X-OMS-Signature"] = "sha256=" + sign_request(
                    self.secret, stamp, method, path, content
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

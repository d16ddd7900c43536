"""The API's Temporal client, connected on first use (the API may start before Temporal)."""

import asyncio

from temporalio.client import Client

from config import Settings
from config.temporal import connect_temporal


class TemporalGateway:
    def __init__(self, settings: Settings, client: Client | None = None):
        self.settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await connect_temporal(self.settings)
        return self._client

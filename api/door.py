"""The API's door: a caller without a known key is refused before a byte of its body is
read, and a body is read only up to its route's limit (413 past it), announced or
chunked. Plain ASGI: the promise runs on every cart change, and a request-object
middleware would cost it a task and a stream per call."""

from collections.abc import Callable
from datetime import datetime

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import identify
from config import Settings

NETWORK_LOAD = "/v1/admin/network"
NETWORK_LIMIT = 64 * 1024 * 1024  # a big network document: the only large body
BODY_LIMIT = 1024 * 1024  # a cart, an order of 200 lines, a field event: far below
# What answers without a key: health, and the metrics (in production their route wants
# the scrape key, OMS_METRICS_KEY, which is no role's key and so no key of this door's).
OPEN = ("/healthz", "/livez", "/metrics")
# The API's document: open in development; in production it takes a role's key (any role:
# it describes routes, not data), and /docs and /redoc are off (api/app.py).
DOCUMENT = ("/docs", "/redoc", "/openapi.json")


def open_paths(settings: Settings) -> tuple[str, ...]:
    return OPEN if settings.env == "prod" else OPEN + DOCUMENT


NO_BODY = ("GET", "HEAD", "OPTIONS")


def body_limit(path: str) -> int:
    return NETWORK_LIMIT if path == NETWORK_LOAD else BODY_LIMIT


CALLER = "caller"  # where the door leaves who called (api.auth.Identified) for the routes


class Door:
    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        engine: Engine,
        clock: Callable[[], datetime],
    ):
        self.app = app
        self.settings = settings
        self.engine = engine
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = Headers(scope=scope)
        if not path.startswith(open_paths(self.settings)):
            try:
                who = await identify(
                    self.settings, self.engine, headers.get("authorization"), self.clock()
                )
            except HTTPException as refused:
                await _answer(scope, receive, send, refused.status_code, refused.detail)
                return
            scope.setdefault("state", {})[CALLER] = who
        limit = body_limit(path)
        length = headers.get("content-length")
        if length and (not length.isdigit() or int(length) > limit):
            await _too_large(scope, receive, send, limit)
            return
        if scope["method"] in NO_BODY:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the caller left: nothing to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(scope, receive, send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # what comes after the body: a disconnect

        await self.app(scope, replay, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    detail = f"body larger than {limit} bytes"
    await _answer(scope, receive, send, status.HTTP_413_CONTENT_TOO_LARGE, detail)


async def _answer(scope: Scope, receive: Receive, send: Send, code: int, detail: str) -> None:
    headers = {"WWW-Authenticate": "Bearer"} if code == status.HTTP_401_UNAUTHORIZED else None
    await JSONResponse({"detail": detail}, status_code=code, headers=headers)(scope, receive, send)

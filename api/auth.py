"""Who is calling: bearer keys carry a role; field events also carry a signature."""

import hashlib
import hmac
import re
import time

from fastapi import HTTPException, Request, status

from config import Settings


def role_of(settings: Settings, authorization: str | None) -> str:
    """The caller's role from `Authorization: Bearer <key>` (401 if none matches)."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer key: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    role = None
    # Compare against every key, in constant time, so timing reveals nothing.
    for known, known_role in settings.key_roles.items():
        if hmac.compare_digest(known.encode(), key.encode()):
            role = known_role
    if role is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown key", headers={"WWW-Authenticate": "Bearer"}
        )
    return role


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """An outbound notification's signature: hex HMAC-SHA256 of "{timestamp}.{raw body}"."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_request(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """A field event's signature: hex HMAC-SHA256 of "{timestamp}.{METHOD}.{path}.{raw
    body}". The method and path are signed too, so a signed body cannot be replayed to
    another route (a node's event to another node's URL)."""
    message = f"{timestamp}.{method.upper()}.{path}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


TIMESTAMP = re.compile(r"^[0-9]{10}$")  # unix seconds, as sent until the year 2286
SIGNATURE = re.compile(r"^sha256=[0-9a-f]{64}$")


async def verify_field_signature(settings: Settings, request: Request) -> None:
    """Refuse (401) an event whose signature is missing, malformed, wrong, or out of its
    time window; the shapes are checked before any arithmetic or comparison."""
    timestamp = request.headers.get("x-oms-timestamp", "")
    signature = request.headers.get("x-oms-signature", "")
    if not timestamp or not signature:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing X-OMS-Timestamp or X-OMS-Signature header"
        )
    if not TIMESTAMP.match(timestamp):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "X-OMS-Timestamp must be unix seconds (10 digits)"
        )
    if abs(time.time() - int(timestamp)) > settings.signature_tolerance_seconds:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "X-OMS-Timestamp is outside the accepted time window"
        )
    if not SIGNATURE.match(signature):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "X-OMS-Signature must be sha256=<64 hex digits>"
        )
    body = await request.body()
    path = request.url.path
    expected = "sha256=" + sign_request(
        settings.signing_secret, timestamp, request.method, path, body
    )
    if not settings.signing_secret or not hmac.compare_digest(expected, signature):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "bad X-OMS-Signature")

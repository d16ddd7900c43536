"""Who is calling: bearer keys carry a role; field events also carry a signature."""

import hashlib
import hmac
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
    """The field signature: hex HMAC-SHA256 of "{timestamp}.{raw body}"."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


async def verify_field_signature(settings: Settings, request: Request) -> None:
    """Refuse (401) an event whose signature is missing, wrong, or out of its time window."""
    timestamp = request.headers.get("x-oms-timestamp", "")
    signature = request.headers.get("x-oms-signature", "")
    if not timestamp or not signature:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing X-OMS-Timestamp or X-OMS-Signature header"
        )
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "X-OMS-Timestamp must be unix seconds"
        ) from None
    if abs(time.time() - sent_at) > settings.signature_tolerance_seconds:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "X-OMS-Timestamp is outside the accepted time window"
        )
    body = await request.body()
    expected = "sha256=" + sign(settings.signing_secret, timestamp, body)
    if not settings.signing_secret or not hmac.compare_digest(expected, signature):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "bad X-OMS-Signature")

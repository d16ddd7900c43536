"""Who is calling: bearer keys carry a role (and a partner's, what it speaks for); field
events also carry a signature, made with the caller's own secret."""

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import anyio.to_thread
from fastapi import HTTPException, Request, status
from sqlalchemy import Engine

from config import Settings
from db import partners
from db.engine import read_only
from domain.partners import Caller


@dataclass(frozen=True)
class Identified:
    """A caller the door let in, and the secret its field events must be signed with:
    a partner's own, or for the retailer's admin the OMS's field-signing secret."""

    caller: Caller
    signing_secret: str


def bearer_key(authorization: str | None) -> str:
    """The key of `Authorization: Bearer <key>` (401 if there is none)."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer key: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return key


def _role_key(settings: Settings, key: str) -> Caller | None:
    caller = None
    # Compare against every key, in constant time, so timing reveals nothing.
    for known, known_role in settings.key_roles.items():
        if hmac.compare_digest(known.encode(), key.encode()):
            caller = _role_caller(known_role, settings.key_channels.get(known))
    return caller


@lru_cache(maxsize=64)
def _role_caller(role: str, channel: str | None) -> Caller:
    """One Caller per role key, made once: the promise asks on every cart change."""
    return Caller(role=role, channel=channel)


async def identify(
    settings: Settings, engine: Engine, authorization: str | None, now: datetime
) -> Identified:
    """Who calls: one of the retailer's role keys (in memory: the promise's path does no
    I/O), else a partner's key, looked up by its hash at every call so that a revoked
    key stops at once in every API process. 401 if neither."""
    key = bearer_key(authorization)
    own = _role_key(settings, key)
    if own is not None:
        return Identified(own, settings.signing_secret.get_secret_value())
    if not key.startswith(partners.KEY_PREFIX) or len(key) > 200:
        raise _unknown_key()
    found = await anyio.to_thread.run_sync(_partner_of, engine, key, settings.partner_key, now)
    if found is None:
        raise _unknown_key()
    caller, secret = found
    return Identified(caller, secret)


def _partner_of(engine: Engine, key: str, partner_secret: str, now: datetime):
    with read_only(engine) as session:
        return partners.caller_of(session, key, partner_secret, now)


def _unknown_key() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, "unknown key", headers={"WWW-Authenticate": "Bearer"}
    )


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


async def verify_field_signature(settings: Settings, request: Request, secret: str) -> None:
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
    expected = "sha256=" + sign_request(secret, timestamp, request.method, path, body)
    if not secret or not hmac.compare_digest(expected, signature):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "bad X-OMS-Signature")

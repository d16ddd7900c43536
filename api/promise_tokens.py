"""Option ids: the promise signs each option, so an order placed with one is held to its
date without the OMS storing every promise it ever made (one per cart change)."""

import base64
import hashlib
import hmac
import json
from datetime import date, datetime, timedelta

from pydantic import BaseModel

OPTION_LIFETIME = timedelta(minutes=30)  # a cart left longer than this asks again


class OptionClaim(BaseModel):
    method: str
    store_id: str | None
    promised_by: date
    cart: dict[str, int]  # sku -> qty
    expires: datetime


class BadOption(ValueError):
    """An option id that is forged, expired, or for another cart or delivery."""


def issue(secret: str, claim: OptionClaim) -> str:
    body = base64.urlsafe_b64encode(claim.model_dump_json().encode()).rstrip(b"=")
    return body.decode() + "." + _mac(secret, body)


def read(secret: str, option_id: str, now: datetime) -> OptionClaim:
    body, _, mac = option_id.partition(".")
    if not body or not hmac.compare_digest(mac, _mac(secret, body.encode())):
        raise BadOption("unknown delivery option: ask POST /v1/promise for a new one")
    claim = OptionClaim.model_validate(json.loads(base64.urlsafe_b64decode(body + "==")))
    if claim.expires < now:
        raise BadOption("this delivery option has expired: ask POST /v1/promise again")
    return claim


def cart_of(lines) -> dict[str, int]:
    cart: dict[str, int] = {}
    for line in lines:
        cart[line.sku] = cart.get(line.sku, 0) + line.qty
    return dict(sorted(cart.items()))


def _mac(secret: str, body: bytes) -> str:
    return hmac.new(("option:" + secret).encode(), body, hashlib.sha256).hexdigest()[:32]

"""Customer data encrypted in Temporal's histories: an AES-256-GCM payload codec.

Every payload the OMS hands Temporal (workflow and activity inputs and results, signals,
updates, queries, memos, and with them the customer's email and address) leaves the
process encrypted when `OMS_PAYLOAD_KEYS` is set, so whoever reads the Temporal database,
its backups or the Web UI sees ciphertext. The OMS's own clients (API, workers, CLI)
decrypt.

`OMS_PAYLOAD_KEYS="id:base64,id:base64"`: the first key encrypts, every listed key
decrypts. Each encrypted payload names its key's id in its metadata, so a key is rotated
by listing the new one after the current everywhere, then first, and keeping the old ones
listed until no open order's history needs them (docs/operations.md). Search attributes
are not payloads and stay in clear: they hold ids, statuses, dates and nodes, never an
email or an address.
"""

import base64
import binascii
import os
import re
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

# Temporal's own convention for encrypted payloads: its Web UI and CLI show such a
# payload as encrypted (and offer a codec endpoint) instead of trying to parse it as JSON.
ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12  # AES-GCM's standard nonce; random per payload
KEY_ID_SHAPE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class PayloadKeyError(ValueError):
    """A payload that cannot be decrypted with the keys this process holds."""


def parse_payload_keys(value: str) -> dict[str, bytes]:
    """Key id to 32-byte key from "id:base64,id:base64", in the order given (the first
    encrypts). An error names the key id, never the key."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        key_id, sep, encoded = item.partition(":")
        if not sep or not KEY_ID_SHAPE.match(key_id):
            raise ValueError(
                "OMS_PAYLOAD_KEYS entry must be id:base64 with an id of 1 to 32 letters, "
                "digits, '_', '.' or '-'"
            )
        if key_id in keys:
            raise ValueError(f"OMS_PAYLOAD_KEYS lists the key id {key_id} twice")
        # Standard or URL-safe base64 (openssl rand -base64 32, secrets.token_urlsafe).
        normal = encoded.strip().replace("-", "+").replace("_", "/")
        try:
            key = base64.b64decode(normal + "=" * (-len(normal) % 4), validate=True)
        except binascii.Error:
            key = b""
        if len(key) != 32:
            raise ValueError(
                f"OMS_PAYLOAD_KEYS: the key {key_id} must be the base64 of 32 random bytes "
                "(e.g. openssl rand -base64 32)"
            )
        keys[key_id] = key
    return keys


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each whole payload (its metadata included), under the first key."""

    def __init__(self, keys: dict[str, bytes]):
        if not keys:
            raise ValueError("an encryption codec needs at least one key")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = next(iter(keys))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(payload) for payload in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") == ENCODING:
            return payload  # already sealed (a payload passed through untouched)
        key_id = self._current
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), _aad(key_id))
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed
        )

    def _decrypt(self, payload: Payload) -> Payload:
        # Payloads written before the key was set stay readable: turning encryption on
        # must not strand the orders already running.
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadKeyError(
                f"payload encrypted with key {key_id!r}, which OMS_PAYLOAD_KEYS does not list"
            )
        data = payload.data
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], _aad(key_id))
        except InvalidTag:
            raise PayloadKeyError(
                f"payload under key {key_id!r} does not decrypt: another key with that id, "
                "or altered"
            ) from None
        return Payload.FromString(plain)


def _aad(key_id: str) -> bytes:
    # The key id is authenticated with the ciphertext: a payload relabelled with another
    # id fails rather than being read under a key it was not sealed with.
    return b"oms-payload-v1:" + key_id.encode()

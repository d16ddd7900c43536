"""The payload codec alone: what it seals, what it refuses, how its keys are given."""

import base64
import os

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from config import Settings
from config.payload_codec import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    PayloadKeyError,
    parse_payload_keys,
)
from config.temporal import data_converter

EMAIL = b"anna@example.com"


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def json_payload(data: bytes = b'{"email":"anna@example.com"}') -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


async def test_a_sealed_payload_hides_data_and_encoding_and_opens_whole():
    codec = EncryptionCodec({"k1": os.urandom(32)})
    (sealed,) = await codec.encode([json_payload()])
    assert EMAIL not in sealed.SerializeToString() and b"json/plain" not in sealed.data
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"k1"
    assert await codec.decode([sealed]) == [json_payload()]
    # A fresh nonce each time: two equal orders do not look equal in the history.
    (again,) = await codec.encode([json_payload()])
    assert again.data != sealed.data


async def test_payloads_written_before_the_key_was_set_are_still_read():
    codec = EncryptionCodec({"k1": os.urandom(32)})
    assert await codec.decode([json_payload()]) == [json_payload()]


async def test_a_payload_relabelled_with_another_key_id_or_altered_is_refused():
    k1, k2 = os.urandom(32), os.urandom(32)
    codec = EncryptionCodec({"k1": k1, "k2": k2})
    (sealed,) = await codec.encode([json_payload()])
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: b"k2"}, data=sealed.data)
    # Even with the sealing key filed under the new id it fails: the id is sealed in.
    relabelled_codec = EncryptionCodec({"k2": k1})
    with pytest.raises(PayloadKeyError, match="does not decrypt"):
        await relabelled_codec.decode([relabelled])
    flipped = bytearray(sealed.data)
    flipped[-1] ^= 1
    with pytest.raises(PayloadKeyError, match="does not decrypt"):
        await codec.decode([Payload(metadata=sealed.metadata, data=bytes(flipped))])
    with pytest.raises(PayloadKeyError, match="'k1', which OMS_PAYLOAD_KEYS does not list"):
        await EncryptionCodec({"k2": k2}).decode([sealed])


async def test_the_first_key_seals_and_every_listed_key_opens():
    old, new = os.urandom(32), os.urandom(32)
    before = EncryptionCodec(parse_payload_keys(f"2026-01:{b64(old)}"))
    after = EncryptionCodec(parse_payload_keys(f"2026-06:{b64(new)},2026-01:{b64(old)}"))
    (sealed_before,) = await before.encode([json_payload()])
    (sealed_after,) = await after.encode([json_payload()])
    assert sealed_after.metadata[KEY_ID] == b"2026-06"
    assert await after.decode([sealed_before, sealed_after]) == [json_payload()] * 2


def test_keys_are_32_bytes_of_standard_or_url_safe_base64_and_errors_never_quote_them():
    key = os.urandom(32)
    url_safe = base64.urlsafe_b64encode(key).decode().rstrip("=")
    assert parse_payload_keys(f" a:{b64(key)} , b:{url_safe} ") == {"a": key, "b": key}
    assert parse_payload_keys("") == {}
    short = b64(os.urandom(16))
    for bad, reason in [
        (f"a:{short}", "base64 of 32 random bytes"),
        ("a:not base64!", "base64 of 32 random bytes"),
        (b64(key), "id:base64"),
        (f"a b:{b64(key)}", "id:base64"),
        (f"a:{b64(key)},a:{b64(os.urandom(32))}", "twice"),
    ]:
        with pytest.raises(ValueError, match=reason) as refused:
            Settings(payload_keys=bad)
        assert short not in str(refused.value) and b64(key) not in str(refused.value)


async def test_without_keys_the_oms_converter_is_the_plain_pydantic_one():
    assert data_converter(Settings()) is pydantic_data_converter


async def test_with_keys_a_failure_message_is_sealed_too():
    # A validation error quotes its input: the failure's message must not carry it in clear.
    converter = data_converter(Settings(payload_keys=f"k1:{b64(os.urandom(32))}"))
    failure = Failure()
    await converter.encode_failure(ApplicationError("bad email anna@example.com"), failure)
    assert EMAIL not in failure.SerializeToString()
    decoded = await converter.decode_failure(failure)
    assert "anna@example.com" in str(decoded)

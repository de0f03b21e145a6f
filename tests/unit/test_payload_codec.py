"""The payload codec: what it writes is unreadable without the keys, keys rotate, tampering and
bad keys are refused with one clear line."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload

from oms.codec import (
    ENCODING,
    KEY_ID,
    EncryptionCodec,
    PayloadKeyError,
    PayloadKeys,
    UndecryptablePayload,
    new_key,
)
from oms.settings import DEV_PAYLOAD_KEYS, Settings

KEY_A, KEY_B = new_key(), new_key()
ADDRESS = b'{"name":"Zelda Quiet","street":"12 Hidden Lane","email":"zelda@example.com"}'


def codec(text: str) -> EncryptionCodec:
    return EncryptionCodec(PayloadKeys.parse(text))


def plain(data: bytes = ADDRESS) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


async def test_an_encrypted_payload_reveals_nothing_and_decrypts_to_the_original():
    only_a = codec(f"a:{KEY_A}")
    [sealed] = await only_a.encode([plain()])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"a"
    for word in (b"Zelda", b"Hidden", b"zelda@", b"json/plain"):
        assert word not in sealed.SerializeToString()
    assert await only_a.decode([sealed]) == [plain()]


async def test_the_same_payload_encrypts_differently_each_time():
    only_a = codec(f"a:{KEY_A}")
    first, second = await only_a.encode([plain(), plain()])
    assert first.data != second.data


async def test_rotation_new_payloads_take_the_new_key_and_old_ones_still_decrypt():
    [written_with_a] = await codec(f"a:{KEY_A}").encode([plain()])
    rotated = codec(f"b:{KEY_B},a:{KEY_A}")
    [written_with_b] = await rotated.encode([plain()])
    assert written_with_b.metadata[KEY_ID] == b"b"
    assert await rotated.decode([written_with_a, written_with_b]) == [plain(), plain()]
    # Once A is dropped, what it wrote is unreadable, and the error says which key is missing.
    with pytest.raises(UndecryptablePayload, match="key 'a', which OMS_PAYLOAD_KEYS does not"):
        await codec(f"b:{KEY_B}").decode([written_with_a])


async def test_a_tampered_ciphertext_fails_to_decode_with_a_clear_error():
    only_a = codec(f"a:{KEY_A}")
    [sealed] = await only_a.encode([plain()])
    flipped = bytearray(sealed.data)
    flipped[20] ^= 0x01
    tampered = Payload(metadata=sealed.metadata, data=bytes(flipped))
    with pytest.raises(UndecryptablePayload, match="key 'a' fails authentication: it was altered"):
        await only_a.decode([tampered])


async def test_a_payload_relabelled_with_another_key_id_fails_too():
    both = codec(f"a:{KEY_A},b:{KEY_A}")  # the same key under two ids
    [sealed] = await both.encode([plain()])
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: b"b"}, data=sealed.data)
    with pytest.raises(UndecryptablePayload, match="fails authentication"):
        await both.decode([relabelled])


async def test_payloads_written_before_the_codec_pass_through_unchanged():
    binary = Payload(metadata={"encoding": b"binary/null"})
    assert await codec(f"a:{KEY_A}").decode([plain(), binary]) == [plain(), binary]


@pytest.mark.parametrize(("text", "says"), [
    ("", "no key given"),
    (" , ", "no key given"),
    (KEY_A, "each entry is <id>:<base64 key>"),
    (f"a b:{KEY_A}", "each entry is <id>:<base64 key>"),
    (f"a:{KEY_A},a:{KEY_B}", "key id 'a' appears twice"),
    ("a:not base64!", "key 'a' is not the base64 of 32 bytes"),
    (f"a:{base64.b64encode(b'16 bytes only!!!').decode()}", "not the base64 of 32 bytes"),
])
def test_unusable_keys_are_refused_in_one_line(text, says):
    with pytest.raises(PayloadKeyError, match=says) as refused:
        PayloadKeys.parse(text)
    assert "\n" not in str(refused.value)
    assert KEY_A not in str(refused.value) and KEY_B not in str(refused.value)


def test_the_first_key_is_the_current_one():
    keys = PayloadKeys.parse(f" new:{KEY_B} , old:{KEY_A} ")
    assert keys.current == "new" and list(keys.keys) == ["new", "old"]
    assert KEY_A not in repr(keys)


def test_settings_refuse_bad_keys_and_name_the_variable(monkeypatch):
    monkeypatch.setenv("OMS_PAYLOAD_KEYS", "k1:short")
    with pytest.raises(ValidationError, match="OMS_PAYLOAD_KEYS: key 'k1' is not the base64"):
        Settings(_env_file=None)


def test_the_dev_key_is_the_default_and_refused_beyond_loopback(monkeypatch):
    assert Settings(_env_file=None).payload_keys == DEV_PAYLOAD_KEYS
    public = {"OMS_API_HOST": "0.0.0.0", "OMS_JWT_SECRET": "x" * 40,
              "OMS_SHIPPING_WEBHOOK_SECRET": "y" * 40, "OMS_ESCROW_WEBHOOK_SECRET": "z" * 40,
              "OMS_STRIPE_API_KEY": "sk_live_" + "k" * 40,
              "OMS_STRIPE_API_BASE": "https://api.stripe.com",
              "OMS_STRIPE_WEBHOOK_SECRET": "whsec_" + "w" * 32}
    for key, value in public.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match="set OMS_PAYLOAD_KEYS"):
        Settings(_env_file=None)
    monkeypatch.setenv("OMS_PAYLOAD_KEYS", f"prod:{KEY_A}")
    assert Settings(_env_file=None).payload_key_ring == PayloadKeys.parse(f"prod:{KEY_A}")
    # Turning encryption off is for measurements on one machine only.
    monkeypatch.setenv("OMS_PAYLOAD_ENCRYPTION", "false")
    with pytest.raises(ValidationError, match="OMS_PAYLOAD_ENCRYPTION=false"):
        Settings(_env_file=None)


def test_without_encryption_there_is_no_key_ring():
    assert Settings(_env_file=None, payload_encryption=False).payload_key_ring is None

"""Payload encryption: Temporal stores an order's inputs, results and events as ciphertext.

Buyers' names, emails and addresses travel through workflow inputs, updates and activity
arguments, which Temporal keeps in its history and shows to anyone who can read it (the Web UI,
`temporal workflow show`). Every client and worker encodes payloads with `EncryptionCodec`
after the pydantic converter has made them JSON, so the server only ever holds AES-GCM
ciphertext; the API's codec server (`api/routes/codec.py`) decrypts for operators.

Keys are `OMS_PAYLOAD_KEYS`, `id:base64-key,id:base64-key,...`: the first encrypts, all decrypt,
so a key is rotated by putting a new one first and keeping the old ones while histories written
with them are still read. A payload carries its key id in metadata; one without our encoding
(written before the codec, or by a client without it) passes through unchanged, so running
orders recorded in plain text keep replaying.

Never imported by workflow modules, and `cryptography` only when a codec is made: the workflow
sandbox re-imports a module that defines a workflow (a test's, a benchmark's) with all it
imports, and cannot re-import `cryptography`'s extension (`SystemError ... dictobject.c`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
from collections.abc import Mapping, Sequence

from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from workflows.converter import data_converter

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_NONCE_BYTES = 12  # AES-GCM's standard nonce; random per payload
_KEY_BYTES = 32  # AES-256
_KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


class PayloadKeyError(ValueError):
    """OMS_PAYLOAD_KEYS cannot be used; the message is one line saying why."""


class UndecryptablePayload(ValueError):
    """A payload says it is ours but cannot be decrypted: an unknown key id, or altered bytes."""


@dataclasses.dataclass(frozen=True)
class PayloadKeys:
    """The key that encrypts new payloads (`current`) and every key that may still decrypt."""

    current: str
    keys: Mapping[str, bytes] = dataclasses.field(repr=False)

    @classmethod
    def parse(cls, text: str) -> PayloadKeys:
        """`id:base64-key,...` (32-byte keys; the first encrypts); PayloadKeyError if not."""
        keys: dict[str, bytes] = {}
        for entry in filter(None, (part.strip() for part in text.split(","))):
            key_id, sep, encoded = entry.partition(":")
            if not sep or not _KEY_ID_PATTERN.fullmatch(key_id):
                raise PayloadKeyError("OMS_PAYLOAD_KEYS: each entry is <id>:<base64 key>, the "
                                      "id of letters, digits, '.', '_' or '-'")
            if key_id in keys:
                raise PayloadKeyError(f"OMS_PAYLOAD_KEYS: key id {key_id!r} appears twice")
            try:
                key = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                key = b""
            if len(key) != _KEY_BYTES:
                raise PayloadKeyError(f"OMS_PAYLOAD_KEYS: key {key_id!r} is not the base64 of "
                                      f"{_KEY_BYTES} bytes (make one with `openssl rand -base64 "
                                      f"{_KEY_BYTES}`)")
            keys[key_id] = key
        if not keys:
            raise PayloadKeyError("OMS_PAYLOAD_KEYS: no key given")
        return cls(current=next(iter(keys)), keys=keys)


def new_key() -> str:
    """A fresh key in the form OMS_PAYLOAD_KEYS takes after `id:`."""
    return base64.b64encode(os.urandom(_KEY_BYTES)).decode()


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each whole payload (its metadata included); the key id is bound in as
    associated data, so relabelling a payload with another id fails like altering it."""

    def __init__(self, keys: PayloadKeys) -> None:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._invalid_tag = InvalidTag
        self._current = keys.current
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._current.encode()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self._current].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # plain: recorded before the codec
        key_id = payload.metadata.get(KEY_ID, b"")
        name = key_id.decode(errors="replace")
        cipher = self._ciphers.get(name)
        if cipher is None:
            raise UndecryptablePayload(f"payload encrypted with key {name!r}, which "
                                       "OMS_PAYLOAD_KEYS does not hold")
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, key_id)
        except self._invalid_tag:
            raise UndecryptablePayload(
                f"payload encrypted with key {name!r} fails authentication: it was altered, or "
                "encrypted with a different key under that id") from None
        return Payload.FromString(plain)


def encrypted_converter(keys: PayloadKeys | None) -> DataConverter:
    """oms's data converter, encrypting with `keys` (none: plain, as before the codec).

    Failure messages and stack traces are moved into an encoded payload too: a refusal's
    message can quote what the buyer sent."""
    if keys is None:
        return data_converter
    return dataclasses.replace(
        data_converter, payload_codec=EncryptionCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes)

"""The codec server decrypts for operators only, and answers the Temporal UI's CORS preflight."""

from __future__ import annotations

import base64

import pytest
from temporalio.api.common.v1 import Payload

from api.auth import Role
from oms.codec import ENCODING, KEY_ID, EncryptionCodec
from oms.temporal import DEFAULT_PAYLOAD_KEYS
from tests.conftest import bearer, carrier

UI_ORIGIN = "http://127.0.0.1:8233"  # the dev stack's Temporal UI, the settings' default
ADDRESS = b'{"name":"Zelda Quiet","street":"12 Hidden Lane"}'


def as_json(payload: Payload) -> dict:
    return {"metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
            "data": base64.b64encode(payload.data).decode()}


def from_json(body: dict) -> Payload:
    return Payload(metadata={k: base64.b64decode(v) for k, v in body["metadata"].items()},
                   data=base64.b64decode(body["data"]))


PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=ADDRESS)
SEALED = EncryptionCodec(DEFAULT_PAYLOAD_KEYS).encrypt(PLAIN)  # as the API and workers write


async def test_an_operator_reads_what_the_workers_wrote(api):
    answer = await api.post("/codec/decode", json={"payloads": [as_json(SEALED)]},
                            headers={**bearer("ops1", Role.OPERATOR), "X-Namespace": "default"})
    assert answer.status_code == 200, answer.text
    assert [from_json(p) for p in answer.json()["payloads"]] == [PLAIN]


async def test_encode_then_decode_is_the_original_and_encode_hides_it(api):
    ops = bearer("ops1", Role.OPERATOR)
    encoded = await api.post("/codec/encode", json={"payloads": [as_json(PLAIN)]}, headers=ops)
    assert encoded.status_code == 200, encoded.text
    [sealed] = [from_json(p) for p in encoded.json()["payloads"]]
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"dev"
    assert b"Zelda" not in sealed.data
    decoded = await api.post("/codec/decode", json=encoded.json(), headers=ops)
    assert [from_json(p) for p in decoded.json()["payloads"]] == [PLAIN]


async def test_plain_payloads_come_back_as_they_were(api):
    answer = await api.post("/codec/decode", json={"payloads": [as_json(PLAIN)]},
                            headers=bearer("ops1", Role.OPERATOR))
    assert [from_json(p) for p in answer.json()["payloads"]] == [PLAIN]


@pytest.mark.parametrize("path", ["/codec/decode", "/codec/encode"])
@pytest.mark.parametrize(("headers", "status"), [
    (bearer("buyer-1"), 403),
    (carrier(), 403),
    (bearer("support-1", Role.SUPPORT), 403),
    ({}, 401),
    ({"Authorization": "Bearer not-a-token"}, 401),
])
async def test_nobody_but_an_operator_may_use_it(api, path, headers, status):
    answer = await api.post(path, json={"payloads": [as_json(SEALED)]}, headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert "Zelda" not in answer.text


async def test_a_tampered_payload_is_refused_with_a_clear_error(api):
    flipped = bytearray(SEALED.data)
    flipped[-1] ^= 0x01
    tampered = Payload(metadata=SEALED.metadata, data=bytes(flipped))
    answer = await api.post("/codec/decode", json={"payloads": [as_json(tampered)]},
                            headers=bearer("ops1", Role.OPERATOR))
    assert answer.status_code == 422
    assert answer.json()["code"] == "VALIDATION_ERROR"
    assert "key 'dev' fails authentication: it was altered" in answer.json()["message"]


async def test_a_payload_of_a_key_it_does_not_hold_is_refused(api):
    foreign = Payload(metadata={**SEALED.metadata, KEY_ID: b"retired"}, data=SEALED.data)
    answer = await api.post("/codec/decode", json={"payloads": [as_json(foreign)]},
                            headers=bearer("ops1", Role.OPERATOR))
    assert answer.status_code == 422
    assert "'retired', which OMS_PAYLOAD_KEYS does not hold" in answer.json()["message"]


async def test_a_payload_not_in_base64_is_a_422(api):
    answer = await api.post("/codec/decode",
                            json={"payloads": [{"metadata": {"encoding": "%%%"}, "data": ""}]},
                            headers=bearer("ops1", Role.OPERATOR))
    assert answer.status_code == 422 and answer.json()["code"] == "VALIDATION_ERROR"


def preflight(origin: str) -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,x-namespace"}


async def test_the_ui_origin_passes_the_preflight(api):
    answer = await api.options("/codec/decode", headers=preflight(UI_ORIGIN))
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == UI_ORIGIN
    assert "POST" in answer.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-namespace"} <= allowed
    # The answer itself carries the origin too, or the browser would not hand it to the UI.
    decoded = await api.post("/codec/decode", json={"payloads": [as_json(SEALED)]},
                             headers={**bearer("ops1", Role.OPERATOR), "Origin": UI_ORIGIN})
    assert decoded.headers["access-control-allow-origin"] == UI_ORIGIN


async def test_other_origins_and_other_paths_get_no_cors(api):
    elsewhere = await api.options("/codec/decode", headers=preflight("https://evil.example"))
    assert elsewhere.status_code == 400
    assert "access-control-allow-origin" not in elsewhere.headers
    # The UI's origin is allowed on the codec paths only, not on the order API.
    orders = await api.options("/api/orders", headers=preflight(UI_ORIGIN))
    assert "access-control-allow-origin" not in orders.headers


async def test_a_ui_without_sign_in_decodes_through_an_operators_session(api):
    # The dev server's Web UI sends no token: the operator signs in here once, and the UI's
    # "Include cross-origin credentials" makes the browser send the session cookie.
    page = await api.get("/codec/session")
    assert page.status_code == 200 and "Include cross-origin credentials" in page.text
    ops = bearer("ops1", Role.OPERATOR)["Authorization"].removeprefix("Bearer ")
    opened = await api.post("/codec/session", data={"token": ops})
    assert opened.status_code == 200, opened.text
    cookie = opened.headers["set-cookie"].lower()
    assert all(part in cookie for part in ("httponly", "samesite=strict", "path=/codec"))
    try:
        decoded = await api.post("/codec/decode", json={"payloads": [as_json(SEALED)]},
                                 headers={"Origin": UI_ORIGIN})
        assert decoded.status_code == 200, decoded.text
        assert [from_json(p) for p in decoded.json()["payloads"]] == [PLAIN]
        assert decoded.headers["access-control-allow-credentials"] == "true"
        assert (await api.get("/api/orders")).status_code == 401  # the cookie opens codec only
    finally:
        ended = await api.post("/codec/session/end")
    assert ended.status_code == 200
    after = await api.post("/codec/decode", json={"payloads": [as_json(SEALED)]})
    assert after.status_code == 401


@pytest.mark.parametrize("token", [bearer("buyer-1"), bearer("support-1", Role.SUPPORT),
                                   carrier()])
async def test_only_an_operator_can_open_a_session(api, token):
    refused = await api.post("/codec/session",
                             data={"token": token["Authorization"].removeprefix("Bearer ")})
    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers
    forged = await api.post("/codec/decode", json={"payloads": [as_json(SEALED)]},
                            headers={"Cookie": f"oms_codec_session={token['Authorization'][7:]}"})
    assert forged.status_code == 403 and "Zelda" not in forged.text


async def test_a_session_needs_a_valid_token(api):
    for data in ({"token": "not-a-token"}, {}):
        refused = await api.post("/codec/session", data=data)
        assert refused.status_code == 401
        assert "set-cookie" not in refused.headers


@pytest.mark.parametrize("payload", [1.5, "text", [], None])
async def test_a_payload_that_is_not_an_object_is_a_clear_422(api, payload):
    # FastAPI validates with from_attributes: without the check any value became a payload of
    # defaults (found by the schemathesis run).
    refused = await api.post("/codec/decode", json={"payloads": [payload]},
                             headers=bearer("ops1", Role.OPERATOR))
    assert refused.status_code == 422, refused.text

"""`X-OMS-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.

Checked over the raw bytes, compared in constant time, and refused when the timestamp is more
than the tolerance away from now in either direction (a replay from the past or a clock far
ahead).
"""

from __future__ import annotations

import hashlib
import hmac

from api.errors import ApiError
from domain.errors import ErrorCode

HEADER = "X-OMS-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value a provider sends (used by tests, benchmarks and the docs)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str | None, body: bytes, now: float,
           tolerance: int = TOLERANCE_SECONDS) -> None:
    if not header:
        raise ApiError(ErrorCode.WEBHOOK_SIGNATURE_INVALID, f"the {HEADER} header is missing")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    timestamps = parts.get("t", [])
    if len(timestamps) != 1 or not timestamps[0].isdigit() or len(timestamps[0]) > 12:
        raise ApiError(ErrorCode.WEBHOOK_SIGNATURE_INVALID, "the signature has no valid timestamp")
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > tolerance:
        raise ApiError(ErrorCode.WEBHOOK_TIMESTAMP_OUT_OF_RANGE,
                       f"the signature timestamp is more than {tolerance} s from now")
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    # Any of several v1 values may match, so a provider can rotate secrets without downtime.
    if not any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", [])):
        raise ApiError(ErrorCode.WEBHOOK_SIGNATURE_INVALID, "the signature does not match")

import pytest

from api.errors import ApiError
from webhooks.signature import sign, verify

SECRET = "shipping-secret-0123456789abcdef0123456789"
BODY = b'{"eventId":"e1"}'
NOW = 1_800_000_000


def code(header, body=BODY, now=NOW, secret=SECRET):
    with pytest.raises(ApiError) as err:
        verify(secret, header, body, now)
    return err.value.code


def test_a_correct_signature_passes():
    verify(SECRET, sign(SECRET, BODY, NOW), BODY, NOW)
    verify(SECRET, sign(SECRET, BODY, NOW - 300), BODY, NOW)  # at the edge of the tolerance


def test_a_rotated_secret_may_sign_alongside_the_old_one():
    old = sign("old-secret-0123456789abcdef0123456789ab", BODY, NOW)
    verify(SECRET, old + ",v1=" + sign(SECRET, BODY, NOW).split("v1=")[1], BODY, NOW)


@pytest.mark.parametrize(
    "header",
    [None, "", "v1=abc", "t=abc,v1=00", f"t={NOW},v1=" + "0" * 64,
     f"t={NOW},t={NOW},v1=00", sign("another-secret-0123456789abcdef012345", BODY, NOW)],
)
def test_missing_malformed_or_wrong_signatures_fail(header):
    assert code(header) == "WEBHOOK_SIGNATURE_INVALID"


def test_a_tampered_body_fails():
    assert code(sign(SECRET, BODY, NOW), body=BODY + b" ") == "WEBHOOK_SIGNATURE_INVALID"


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_stale_and_future_timestamps_fail(skew):
    assert code(sign(SECRET, BODY, NOW - skew)) == "WEBHOOK_TIMESTAMP_OUT_OF_RANGE"

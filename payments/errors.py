"""How a provider call fails: worth retrying, or never going to succeed as asked."""

from __future__ import annotations


class PaymentProviderError(Exception):
    retryable: bool = False


class ProviderUnavailable(PaymentProviderError):
    """The provider could not answer (connection, timeout, 5xx, rate limit, rejected key):
    the same call may succeed later."""

    retryable = True


class PaymentNotSettled(ProviderUnavailable):
    """The payment is still processing: it can be refunded once it settles."""


class ProviderRefused(PaymentProviderError):
    """The provider refused the request as asked (a 4xx such as refunding more than was
    paid, or a payment that never succeeded): repeating it changes nothing."""

    def __init__(self, message: str, *, http_status: int | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status  # the provider's answer, when it gave one
        self.code = code  # the provider's own error code (Stripe: card_declined, ...)

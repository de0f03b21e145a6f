"""Every error leaves as application/problem+json (RFC 9457) with a stable `code`."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import temporalio.bridge.client
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from api.auth import AuthError
from domain.errors import DomainError, ErrorCode

log = logging.getLogger("oms.api")

# code -> (HTTP status, can the same request succeed later, what the client should do)
_CODES: dict[ErrorCode, tuple[int, bool, str]] = {
    ErrorCode.INVALID_TRANSITION: (409, False, "Reload the order and choose a valid next status"),
    ErrorCode.INSUFFICIENT_INVENTORY: (409, False, "Reduce the quantity; the payment is refunded"),
    ErrorCode.LISTING_UNAVAILABLE: (409, False, "Browse similar items; the payment is refunded"),
    ErrorCode.AMOUNT_MISMATCH: (422, False, "Check the price and currency; a payment taken "
                                            "for this order is refunded"),
    ErrorCode.PAYMENT_NOT_CONFIRMED: (422, True, "Verify payment status and retry"),
    ErrorCode.INVALID_SHIPPING_ADDRESS: (422, True, "Correct the shipping address and retry"),
    ErrorCode.REFUND_EXCEEDS_PAYMENT: (409, False, "Refund at most what is left of the "
                                                   "payment"),
    ErrorCode.IDEMPOTENCY_CONFLICT: (409, False, "Use a new payment for a different order"),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: (422, False, "Use a new Idempotency-Key for a new request"),
    ErrorCode.NOT_FOUND: (404, False, "Check the id"),
    ErrorCode.FORBIDDEN: (403, False, "Ask the party allowed to make this change"),
    ErrorCode.UNAUTHORIZED: (401, False, "Send a valid bearer token"),
    ErrorCode.VALIDATION_ERROR: (422, True, "Fix the fields listed in errors and retry"),
    ErrorCode.PAYLOAD_TOO_LARGE: (413, False, "Send a smaller request body"),
    ErrorCode.RATE_LIMITED: (429, True, "Wait for the seconds in Retry-After, then retry"),
    ErrorCode.WEBHOOK_SIGNATURE_INVALID: (401, False, "Sign the raw body with the shared secret"),
    ErrorCode.WEBHOOK_TIMESTAMP_OUT_OF_RANGE: (401, True,
                                               "Sign with the current time and resend"),
    ErrorCode.DATABASE_ERROR: (503, True, "Try again shortly"),
    ErrorCode.TEMPORARILY_UNAVAILABLE: (503, True, "Try again shortly"),
    ErrorCode.INTERNAL_ERROR: (500, True, "Try again or contact support"),
}

_TITLES = {
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 413: "Content Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error",
    503: "Service Unavailable",
}


def field_error(field: str, message: str, kind: str = "value_error") -> dict[str, str]:
    """One entry of a problem's `errors`: the field (dotted, camelCase), what is wrong with it
    and pydantic's name for that kind of error."""
    return {"field": field, "message": message, "type": kind}


class ApiError(Exception):
    """Raised by routes and services; turned into a problem response in one place."""

    def __init__(self, code: ErrorCode, message: str, *, errors: list[dict] | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors
        self.extra = {k: v for k, v in extra.items() if v is not None}

    @classmethod
    def invalid_field(cls, field: str, message: str, *, detail: str | None = None,
                      kind: str = "value_error") -> ApiError:
        """A 422 naming the one field that is wrong; `detail` defaults to `message`."""
        return cls(ErrorCode.VALIDATION_ERROR, detail or message,
                   errors=[field_error(field, message, kind)])


def problem(code: ErrorCode, message: str, *, status: int | None = None,
            errors: list[dict] | None = None, retry_after: int | None = None,
            **extra: Any) -> JSONResponse:
    status = status or _CODES[code][0]
    body = _body(code, message, status, errors, extra)
    headers = {"Retry-After": "5"} if status == 503 else None
    if retry_after is not None:
        headers = {"Retry-After": str(retry_after)}
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return JSONResponse(body, status_code=status, headers=headers,
                        media_type="application/problem+json")


def _body(code: ErrorCode, message: str, status: int, errors: list[dict] | None,
          extra: dict[str, Any]) -> dict[str, Any]:
    _, can_retry, action = _CODES[code]
    body: dict[str, Any] = {
        "type": f"https://oms.dev/problems/{code.value.lower().replace('_', '-')}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": message,
        "code": code.value,
        "message": message,
        "canRetry": can_retry,
        "suggestedAction": action,
        **extra,
    }
    if errors:
        body["errors"] = errors
    return body


def _field_errors(exc: RequestValidationError) -> list[dict]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        out.append(field_error(".".join(loc) or "body", err.get("msg", "invalid"),
                               err.get("type", "value_error")))
    return out


def _is_failed_temporal_connect(exc: BaseException) -> bool:
    # A lazy Temporal client that cannot reach its server raises a bare RuntimeError from the
    # SDK bridge's connect. Where it was raised says what it is; its text is no contract.
    # (tests/api/test_unavailable.py fails if the SDK moves that function.)
    return any(frame.f_code is _TEMPORAL_CONNECT
               for frame, _ in traceback.walk_tb(exc.__traceback__))


_TEMPORAL_CONNECT = temporalio.bridge.client.Client.connect.__code__


def install(app: FastAPI) -> None:
    _document_problems(app)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return problem(exc.code, exc.message, errors=exc.errors, **exc.extra)

    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return problem(exc.code, exc.message, currentStatus=exc.current_status)

    @app.exception_handler(AuthError)
    async def _auth_error(_: Request, exc: AuthError) -> JSONResponse:
        return problem(ErrorCode.UNAUTHORIZED, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        if any(e["field"].startswith("checkoutData.shippingAddress") for e in errors):
            return problem(ErrorCode.INVALID_SHIPPING_ADDRESS, "the shipping address is invalid",
                           errors=errors)
        return problem(ErrorCode.VALIDATION_ERROR, "the request is invalid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.VALIDATION_ERROR
        return problem(code, str(exc.detail), status=exc.status_code)

    @app.exception_handler(RPCError)
    async def _temporal(_: Request, exc: RPCError) -> JSONResponse:
        log.warning("temporal call failed: %s (%s)", exc.message, exc.status)
        if temporal_unavailable(exc):
            return problem(ErrorCode.TEMPORARILY_UNAVAILABLE,
                           "the workflow service is unavailable")
        return problem(ErrorCode.INTERNAL_ERROR, "the workflow service refused the request")

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        log.warning("database call failed: %s", exc.orig)
        return problem(ErrorCode.DATABASE_ERROR, "the database is unavailable")

    @app.exception_handler(RuntimeError)
    @app.exception_handler(ConnectionError)
    @app.exception_handler(TimeoutError)
    async def _connection(_: Request, exc: Exception) -> JSONResponse:
        # Anything else of these types is a bug, reported as 500.
        if isinstance(exc, (ConnectionError, TimeoutError)) or _is_failed_temporal_connect(exc):
            log.warning("backing service unreachable: %s", exc)
            return problem(ErrorCode.TEMPORARILY_UNAVAILABLE, "the workflow service is unavailable")
        log.error("unhandled error", exc_info=exc)
        return problem(ErrorCode.INTERNAL_ERROR, "unexpected error")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc)
        return problem(ErrorCode.INTERNAL_ERROR, "unexpected error")


# ---- the problem body in the OpenAPI document -----------------------------------------------


class FieldError(BaseModel):
    field: str = Field(description="dotted camelCase path of the field, or `body`")
    message: str
    type: str = Field(description="kind of error, as pydantic names it (`missing`, `enum`...)")


class Problem(BaseModel):
    """An error (RFC 9457): branch on `code`, show `message`, retry only if `canRetry`."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    type: str
    title: str
    status: int
    detail: str
    code: ErrorCode
    message: str
    can_retry: bool = Field(alias="canRetry")
    suggested_action: str = Field(alias="suggestedAction")
    errors: list[FieldError] | None = Field(None, description="the fields that are wrong")
    current_status: str | None = Field(
        None, alias="currentStatus", description="the order's status, when it refused a change")
    refund: str | None = Field(
        None, description="`initiated` when an order refused after payment is refunded")


_SCHEMAS = "#/components/schemas/"


# What the examples in the OpenAPI document say, for the codes whose own name says too little.
_EXAMPLE_DETAILS = {
    ErrorCode.INVALID_TRANSITION: ("cannot move from shipped to cancelled",
                                   {"currentStatus": "shipped"}),
    ErrorCode.INSUFFICIENT_INVENTORY: ("only 1 left of listing_456", {"refund": "initiated"}),
    ErrorCode.LISTING_UNAVAILABLE: ("listing_456 is no longer for sale", {"refund": "initiated"}),
    ErrorCode.AMOUNT_MISMATCH: ("the payment is for 150 USDC, the order costs 200 USDC",
                                {"refund": "initiated"}),
    ErrorCode.VALIDATION_ERROR: ("the request is invalid", {}),
    ErrorCode.UNAUTHORIZED: ("the bearer token has expired", {}),
    ErrorCode.FORBIDDEN: ("only the seller of this order may ship it", {}),
    ErrorCode.NOT_FOUND: ("no such order", {}),
}


def _example(code: ErrorCode) -> dict[str, Any]:
    status = _CODES[code][0]
    message, extra = _EXAMPLE_DETAILS.get(code, (_CODES[code][2], {}))
    errors = ([field_error("totalAmount", "Input should be greater than 0", "greater_than")]
              if code is ErrorCode.VALIDATION_ERROR else None)
    return {"summary": code.value, "value": _body(code, message, status, errors, extra)}


_UNAVAILABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED,
                          RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.CANCELLED})


def temporal_unavailable(err: RPCError) -> bool:
    """Whether a retry can succeed: the server is down, busy or slow. A server that goes away
    mid-call (restarted) surfaces as UNKNOWN "transport error", not as UNAVAILABLE."""
    return err.status in _UNAVAILABLE or (
        err.status is RPCStatusCode.UNKNOWN and "transport error" in err.message.lower())


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for these statuses, each an application/problem+json body
    with an example of each code that answers with that status."""
    return {status: {"description": _TITLES.get(status, "Error"), "content": {
        "application/problem+json": {
            "schema": {"$ref": _SCHEMAS + "Problem"},
            "examples": {code.value: _example(code) for code, (answer, _, _) in _CODES.items()
                         if answer == status},
        }}} for status in statuses}


# What any authenticated route may answer: no or a bad token, bad input, too many requests, a
# bug, a backend down.
PROBLEM_RESPONSES = problem_responses(401, 422, 429, 500, 503)


def _document_problems(app: FastAPI) -> None:
    """Put the Problem schema that problem_responses() refers to into the OpenAPI document
    (FastAPI adds only models named as `model`, and files those under application/json)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = generate().setdefault("components", {}).setdefault("schemas", {})
            schema = Problem.model_json_schema(by_alias=True, mode="serialization",
                                               ref_template=_SCHEMAS + "{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas["Problem"] = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

"""The published API description stays true: its examples are accepted by the real models."""

import json
import re

import pytest

from api.errors import _CODES, Problem, field_error, problem
from api.main import create_app
from api.schemas import CreateOrderIn, StatusChangeIn
from domain.errors import ErrorCode
from oms.settings import Settings


@pytest.mark.parametrize("model", [CreateOrderIn, StatusChangeIn])
def test_documented_examples_are_valid_requests(model):
    for example in model.model_config["json_schema_extra"]["examples"]:
        model.model_validate(example)


def test_every_operation_is_described():
    spec = create_app(Settings(_env_file=None)).openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation.get("description"), f"{method.upper()} {path} has no docstring"


# ---- every operation: a stable id, a response schema, problem+json errors ----------------------

OPERATION_IDS = {
    "POST /api/orders": "createOrder",
    "GET /api/orders/{order_id}": "getOrder",
    "PUT /api/orders/{order_id}/status": "changeOrderStatus",
    "GET /api/orders/{order_id}/timeline": "getOrderTimeline",
    "GET /api/orders/{order_id}/history": "getOrderHistory",
    "POST /api/orders/{order_id}/cancel": "cancelOrder",
    "POST /api/orders/{order_id}/refunds": "refundOrder",
    "POST /api/orders/{order_id}/shipments": "shipParcel",
    "GET /api/orders/{order_id}/shipments": "listShipments",
    "GET /api/orders/{order_id}/shipments/{tracking_number}": "trackShipment",
    "POST /api/orders/{order_id}/dispute": "openDispute",
    "POST /api/orders/{order_id}/dispute/resolve": "resolveDispute",
    "GET /api/orders": "listOrders",
    "GET /api/orders/buyer/{buyer_id}": "listBuyerOrders",
    "GET /api/orders/seller/{seller_id}": "listSellerOrders",
    "GET /api/orders/search": "searchOrders",
    "GET /api/orders/stats": "getOrderStats",
    "GET /api/orders/seller/{seller_id}/export.csv": "exportSellerOrders",
    "PUT /api/users/{user_id}": "putUser",
    "PUT /api/listings/{listing_id}": "putListing",
    "GET /api/listings/{listing_id}": "getListing",
    "GET /api/alerts": "listAlerts",
    "GET /api/notifications": "listNotifications",
    "POST /api/notifications/{notification_id}/read": "markNotificationRead",
    "GET /health": "getHealth",
    "GET /api/payments/config": "getPaymentsConfig",
    "GET /api/orders/ageing": "getOrderAgeing",
    "POST /api/webhooks/shipping": "receiveShippingWebhook",
    "POST /api/webhooks/escrow": "receiveEscrowWebhook",
    "POST /api/webhooks/stripe": "receiveStripeWebhook",
    "POST /codec/decode": "decodePayloads",
    "POST /codec/encode": "encodePayloads",
}
# /health answers 503 with its own report (which dependency is down), not with a problem.
NOT_PROBLEMS = {("GET /health", "503")}


@pytest.fixture(scope="module")
def spec():
    return create_app(Settings(_env_file=None)).openapi()


def _operations(spec):
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def test_operation_ids_are_stable_and_camel_case(spec):
    ids = {name: operation.get("operationId") for name, operation in _operations(spec)}
    assert ids == OPERATION_IDS
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)+", i) for i in ids.values()), ids
    assert len(set(ids.values())) == len(ids)


def test_every_operation_describes_its_success_body(spec):
    for name, operation in _operations(spec):
        success = [r for status, r in operation["responses"].items() if status.startswith("2")]
        assert success, f"{name} declares no 2xx response"
        for response in success:
            content = response.get("content") or {}
            assert content and all(c.get("schema") for c in content.values()), (
                f"{name} has no 2xx response schema")


def test_every_error_is_declared_as_problem_json(spec):
    for name, operation in _operations(spec):
        errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        assert "500" in errors, f"{name} declares no errors"
        for status, response in errors.items():
            if (name, status) in NOT_PROBLEMS:
                continue
            [(media_type, content)] = response["content"].items()
            assert media_type == "application/problem+json", f"{name} {status}"
            assert content["schema"] == {"$ref": "#/components/schemas/Problem"}, name


# Statuses the API answers with, and what each means; every one is in the document.
ERROR_STATUSES = {401, 403, 404, 409, 413, 422, 500, 503}


def test_every_error_status_the_api_answers_has_an_example_of_each_of_its_codes(spec):
    declared = set()
    for name, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if status[0] not in "45" or (name, status) in NOT_PROBLEMS:
                continue
            declared.add(int(status))
            examples = response["content"]["application/problem+json"]["examples"]
            codes = {code for code, (answer, _, _) in _CODES.items() if answer == int(status)}
            assert set(examples) == {code.value for code in codes}, f"{name} {status}"
            for example in examples.values():
                body = Problem.model_validate(example["value"])
                assert body.status == int(status)
    assert ERROR_STATUSES <= declared
    if any(answer == 429 for answer, _, _ in _CODES.values()):
        assert 429 in declared


def test_the_document_says_which_routes_answer_which_errors(spec):
    operations = dict(_operations(spec))
    assert {"403", "404", "409", "413", "503"} <= set(
        operations["PUT /api/orders/{order_id}/status"]["responses"])
    assert {"401", "422", "503"} <= set(operations["GET /api/orders"]["responses"])


def test_every_reference_in_the_document_resolves(spec):
    text = json.dumps(spec)
    for ref in set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text)):
        assert ref in spec["components"]["schemas"], ref


@pytest.mark.parametrize("body", [
    problem(ErrorCode.NOT_FOUND, "no such order"),
    problem(ErrorCode.INVALID_TRANSITION, "no", currentStatus="shipped"),
    problem(ErrorCode.INSUFFICIENT_INVENTORY, "short", refund="initiated"),
    problem(ErrorCode.VALIDATION_ERROR, "bad", errors=[field_error("amount", "too many places")]),
    problem(ErrorCode.TEMPORARILY_UNAVAILABLE, "down"),
])
def test_the_problem_schema_matches_the_bodies_sent(body):
    assert body.media_type == "application/problem+json"
    Problem.model_validate_json(body.body)  # refuses keys the schema does not describe

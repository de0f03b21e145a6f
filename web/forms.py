"""The order page's forms. Each post is checked (Origin, CSRF) and then sent to the API as the
signed-in person; the API decides. Its refusal comes back next to the form, with its status:
without JavaScript as the whole page, with htmx as the form alone. A success goes back to
the order page (htmx: the order's section, swapped in place)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from web import session
from web.api_client import ApiClient, ApiProblem
from web.offers import STATUS_STEPS, Offer
from web.render import is_htmx, page, to_sign_in
from web.routes import order_context

router = APIRouter(prefix="/orders/{order_id}", include_in_schema=False)
Field = Annotated[str | None, Form(max_length=4000)]
DONE = {Offer.CONFIRM: "Order confirmed.", Offer.PROCESS: "Marked as processing.",
        Offer.READY: "Marked as ready to ship.", Offer.SHIP: "Parcel shipped.",
        Offer.CANCEL: "Order cancelled.", Offer.REFUND: "Refund requested.",
        Offer.CONFIRM_RECEIPT: "Receipt confirmed: the order is complete.",
        Offer.DISPUTE: "Dispute opened.", Offer.RESOLVE: "Dispute resolved."}


@router.post("/status")
async def change_status(request: Request, order_id: str, step: Annotated[str, Form()],
                        csrf: Field = None, key: Field = None) -> Response:
    session.check_post(request, csrf)
    offer = Offer(step) if step in {o.value for o in STATUS_STEPS} else None
    if offer is None:
        return await _refused(request, order_id, "status", ApiProblem(
            422, "VALIDATION_ERROR", "not a step this form takes"))
    body = {"status": STATUS_STEPS[offer].value}
    return await _act(request, order_id, offer, csrf, "put", f"/api/orders/{order_id}/status",
                      body, key)


@router.post("/ship")
async def ship(request: Request, order_id: str, csrf: Field = None, key: Field = None,
               trackingNumber: Field = None, carrier: Field = None,  # noqa: N803
               estimatedDelivery: Field = None) -> Response:  # noqa: N803
    form = await request.form()
    # One quantity field per unshipped item ("qty-<item id>"); all left when none is given.
    items = [{"itemId": name[4:], "quantity": _int(value)} for name, value in form.items()
             if name.startswith("qty-") and str(value).strip() not in ("", "0")]
    body: dict[str, Any] = {"trackingNumber": (trackingNumber or "").strip(),
                            "carrier": _text(carrier),
                            "estimatedDelivery": _text(estimatedDelivery)}
    if items:
        body["items"] = items
    return await _act(request, order_id, Offer.SHIP, csrf, "post",
                      f"/api/orders/{order_id}/shipments", _present(body), key)


@router.post("/cancel")
async def cancel(request: Request, order_id: str, csrf: Field = None, key: Field = None,
                 reasonCode: Field = None, note: Field = None) -> Response:  # noqa: N803
    return await _act(request, order_id, Offer.CANCEL, csrf, "post",
                      f"/api/orders/{order_id}/cancel",
                      _present({"reasonCode": reasonCode, "note": _text(note)}), key)


@router.post("/refund")
async def refund(request: Request, order_id: str, csrf: Field = None, key: Field = None,
                 amount: Field = None, reason: Field = None) -> Response:
    return await _act(request, order_id, Offer.REFUND, csrf, "post",
                      f"/api/orders/{order_id}/refunds",
                      _present({"amount": _text(amount), "reason": _text(reason) or ""}), key)


@router.post("/receipt")
async def confirm_receipt(request: Request, order_id: str, csrf: Field = None,
                          key: Field = None) -> Response:
    return await _act(request, order_id, Offer.CONFIRM_RECEIPT, csrf, "put",
                      f"/api/orders/{order_id}/status", {"status": "completed"}, key)


@router.post("/dispute")
async def dispute(request: Request, order_id: str, csrf: Field = None, key: Field = None,
                  reason: Field = None, evidence: Field = None) -> Response:
    lines = [line.strip() for line in (evidence or "").splitlines() if line.strip()]
    return await _act(request, order_id, Offer.DISPUTE, csrf, "post",
                      f"/api/orders/{order_id}/dispute",
                      {"reason": _text(reason) or "", "evidence": lines}, key)


@router.post("/resolve")
async def resolve(request: Request, order_id: str, csrf: Field = None, key: Field = None,
                  outcome: Field = None, note: Field = None, amount: Field = None) -> Response:
    return await _act(request, order_id, Offer.RESOLVE, csrf, "post",
                      f"/api/orders/{order_id}/dispute/resolve",
                      _present({"outcome": outcome, "note": _text(note) or "",
                                "amount": _text(amount)}), key)


async def _act(request: Request, order_id: str, offer: Offer, csrf: str | None, method: str,
               path: str, body: dict[str, Any], key: str | None) -> Response:
    session.check_post(request, csrf)
    user = await session.principal(request)
    if user is None:
        return to_sign_in()
    try:
        api = ApiClient(request)
        call = api.put if method == "put" else api.post
        # The key was made when the form was drawn: a double submit is one request.
        await call(path, body, idempotency_key=key or None)
    except ApiProblem as problem:
        if problem.unauthorized:
            return to_sign_in()
        return await _refused(request, order_id, offer.value, problem)
    if not is_htmx(request):
        return RedirectResponse(f"/app/orders/{order_id}", status_code=303)
    context = await order_context(request, user, order_id, done=DONE[offer])
    response = page(request, "_swap.html", context, user=user)
    response.headers["HX-Retarget"] = "#order"
    response.headers["HX-Reswap"] = "outerHTML"
    return response


async def _refused(request: Request, order_id: str, form: str,
                   problem: ApiProblem) -> Response:
    """The API's refusal beside the form that was refused, with the API's status."""
    user = await session.principal(request)
    assert user is not None
    try:
        context = await order_context(request, user, order_id, errors={form: problem})
    except ApiProblem as unreadable:  # the order itself cannot be read: show that instead
        return page(request, "error.html", {"status": unreadable.status,
                                            "detail": unreadable.detail},
                    user=user, status=unreadable.status)
    if is_htmx(request):
        return page(request, "_action.html", {**context, "form": form}, user=user,
                    status=problem.status)
    return page(request, "order.html", context, user=user, status=problem.status)


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _present(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def _int(value: Any) -> Any:
    text = str(value).strip()
    return int(text) if text.isdigit() else text  # the API says what is wrong with the rest

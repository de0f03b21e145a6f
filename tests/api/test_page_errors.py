"""Under /app/ a person is answered with a page, even when they asked for nothing the pages
make; the API keeps answering problem+json."""

from __future__ import annotations

from api.auth import Role, mint_token
from tests.conftest import JWT_SECRET, bearer

ORDER = "00000000-0000-0000-0000-000000000000"


def signed_in(user: str) -> dict[str, str]:
    return {"Cookie": f"oms_session={mint_token(JWT_SECRET, user)}"}


async def test_no_such_page_is_a_404_page_and_no_such_route_stays_json(api):
    missing = await api.get("/app/no-such-page", headers=signed_in("ada"))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "no such page." in missing.text and "Signed in as <strong>ada</strong>" in missing.text
    assert (await api.get("/app/static/no-such.js")).headers["content-type"].startswith(
        "text/html")

    route = await api.get("/api/no-such-route", headers=bearer("ada"))
    assert route.status_code == 404
    assert route.headers["content-type"] == "application/problem+json"


async def test_a_post_the_pages_never_make_is_a_422_page(api):
    no_step = await api.post(f"/app/orders/{ORDER}/status", data={"csrf": "x"},
                             headers=signed_in("ada"))
    assert no_step.status_code == 422
    assert no_step.headers["content-type"].startswith("text/html")
    assert "this form was not sent as the page makes it (step: Field required)" in no_step.text

    too_long = await api.post(f"/app/orders/{ORDER}/cancel",
                              data={"csrf": "x", "note": "n" * 4001}, headers=signed_in("ada"))
    assert too_long.status_code == 422
    assert "note: String should have at most 4000 characters" in too_long.text

    # The API's own validation errors are unchanged.
    bad = await api.get("/api/orders", params={"limit": 0}, headers=bearer("ops", Role.OPERATOR))
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"

"""The pages' own headers (no browser needed): a CSP of their own files only, nothing stored,
never framed; the API's answers keep theirs."""

from __future__ import annotations

from api.security_headers import PAGES_POLICY


async def test_pages_allow_their_own_files_only_and_are_not_stored(api):
    answer = await api.get("/app/sign-in")
    assert answer.status_code == 200
    assert answer.headers["content-security-policy"] == PAGES_POLICY
    assert "'unsafe-inline'" not in PAGES_POLICY and "script-src 'self'" in PAGES_POLICY
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "same-origin"


async def test_the_pages_files_may_be_cached_and_the_api_keeps_its_headers(api):
    script = await api.get("/app/static/vendor/htmx.min.js")
    assert script.status_code == 200 and "cache-control" not in script.headers
    health = await api.get("/health")
    assert health.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert health.headers["referrer-policy"] == "no-referrer"


async def test_a_page_out_of_the_session_is_a_redirect_not_an_error(api):
    for path in ("/app/", "/app/sales", "/app/orders/00000000-0000-0000-0000-000000000000"):
        answer = await api.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/app/sign-in"), path

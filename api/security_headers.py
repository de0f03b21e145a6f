"""Headers every HTTP answer carries, so a browser neither guesses content types, nor frames
the API in another site's page, nor keeps an authenticated answer in a shared cache."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
# The web front's pages (web/): their own scripts, styles, images and WebSocket, nothing
# inline, nothing from elsewhere; forms post to the pages only.
PAGES = "/app/"
PAGE_FILES = "/app/static/"
PAGES_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                "connect-src 'self'; form-action 'self'; base-uri 'none'; "
                "frame-ancestors 'none'")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        page = path.startswith(PAGES)
        # A page is authenticated by its session cookie: as private as a bearer's answer.
        authenticated = (page and not path.startswith(PAGE_FILES)) or any(
            name == b"authorization" for name, _ in scope["headers"])

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if page:
                    headers.setdefault("Content-Security-Policy", PAGES_POLICY)
                    # Without a referrer a browser sends `Origin: null` with the pages' own
                    # posts, and their CSRF check could not tell them from another site's.
                    headers.setdefault("Referrer-Policy", "same-origin")
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                # What a caller's token let it see is for that caller only.
                if authenticated:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)

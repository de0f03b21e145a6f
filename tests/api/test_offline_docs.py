"""/docs and /redoc work without internet: every asset they load is served by the API."""

from __future__ import annotations

import re

import httpx
import pytest

from api.main import create_app
from oms.settings import Settings


@pytest.fixture
async def http(tmp_path):
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'oms.db'}",
                              _env_file=None))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://oms.test") as client:
        yield client


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_load_only_local_assets(http, page):
    response = await http.get(page)
    assert response.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url:\\s*['"]([^'"]+)['"]""",
                      response.text)
    urls = [a or b for a, b in urls]
    assert len(urls) >= 2, response.text
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = await http.get(url)
        assert asset.status_code == 200, url
    assert "/openapi.json" in response.text
    assert not re.search(r"https?://", response.text.replace("http://oms.test", "")), (
        "the page names a remote URL")
    assert (await http.get("/openapi.json")).status_code == 200

"""Serving the starter views (engine/http/static_app.py) over HTTP, no browser needed: security headers on every
answer, no directory listing, nothing outside the folder, the page's config, and the setting that turns it off."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from engine.http.static_app import VIEWS_DIR, content_security_policy, view_routes
from engine.settings import Settings


def client(settings: Settings, directory: Path = VIEWS_DIR) -> httpx.AsyncClient:
    app = Starlette(routes=view_routes(settings, directory))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.fixture
def views() -> httpx.AsyncClient:
    return client(Settings(app_id="clinic-app", mount_path="/api/", javascript_key="js-key"))


async def test_pages_carry_the_security_headers(views: httpx.AsyncClient) -> None:
    for path in ("/app/", "/app/patient.html", "/app/js/session.js", "/app/config.json", "/app/missing.html"):
        r = await views.get(path, headers={"host": "clinic.example:8443"})
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "connect-src 'self' ws://clinic.example:8443 wss://clinic.example:8443" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
    assert (await views.get("/app/")).text.startswith("<!doctype html>")


def test_a_forged_host_never_reaches_the_policy() -> None:
    assert "connect-src 'self';" in content_security_policy("evil.example; script-src *")
    assert "connect-src 'self';" in content_security_policy(None)
    assert "ws://[::1]:1337" in content_security_policy("[::1]:1337")


async def test_no_listing_and_nothing_outside_the_folder(views: httpx.AsyncClient) -> None:
    assert (await views.get("/app/js/")).status_code == 404
    assert (await views.get("/app/vendor/")).status_code == 404
    for path in ("/app/../README.md", "/app/..%2f..%2fREADME.md", "/app/%2e%2e/engine/app.py"):
        r = await views.get(path)
        assert r.status_code == 404, path
        assert "sleeplab" not in r.text


async def test_config_tells_the_page_how_to_reach_the_api(views: httpx.AsyncClient) -> None:
    assert (await views.get("/app/config.json")).json() == {"appId": "clinic-app", "mountPath": "/api",
                                                    "javascriptKey": "js-key"}
    bare = client(Settings(app_id="a"))
    assert (await bare.get("/app/config.json")).json() == {"appId": "a", "mountPath": "/parse"}


async def test_the_setting_turns_the_views_off(tmp_path: Path) -> None:
    assert view_routes(Settings(serve_views=False)) == []
    assert view_routes(Settings(), tmp_path / "absent") == []
    off = client(Settings(serve_views=False))
    assert (await off.get("/app/index.html")).status_code == 404


def test_the_vendored_sdk_is_the_pinned_release_with_its_licence() -> None:
    vendor = VIEWS_DIR / "vendor" / "parse"
    assert "Apache License" in (vendor / "LICENSE").read_text()
    assert "8.6.2" in (vendor / "VERSION").read_text()
    bundle = (vendor / "parse.min.js").read_bytes()
    assert b"js8.6.2" in bundle  # the SDK's own client-version string

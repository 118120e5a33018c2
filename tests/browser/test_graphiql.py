"""GraphiQL in a real browser with no internet: the page, its files and a query, end to end.

The service runs as it does for a developer (`python app.py serve`, APP_ENV=development) on a
free loopback port, against the session's seeded database. Debian's Chromium, driven by
Playwright, may reach 127.0.0.1 only: every other request is aborted and recorded, so the test
proves the page needs no CDN. It types the contract's Portfolio query and a user's variables
into the editors, runs them, and finds that user's ACTIVE positions in the result pane; the
screenshot is kept as docs/graphiql.png.

Playwright's own browser download (`playwright install`) is never used: it launches
/usr/bin/chromium. Missing Chromium or GraphiQL's built files fail the run in CI (CI set) and
skip it elsewhere, with how to get them.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from graphql import OperationDefinitionNode, parse
from playwright.async_api import Page, Route, async_playwright, expect
from starlette.applications import Starlette

from settings import ROOT
from tests.conftest import contract_documents, unique_prefix
from web.graphiql import (
    ASSET_DIR,
    ASSETS,
    CDN,
    asset_routes,
    local_assets_present,
    render_graphiql,
)

CHROMIUM = Path("/usr/bin/chromium")
# This machine's network is closed: without these, Chromium reaches for Google's services at
# start. Each launch gets a new, empty --user-data-dir from Playwright (a temporary folder).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = ROOT / "docs" / "graphiql.png"
START_SECONDS = 30


def require(present: bool, missing: str, how: str) -> None:
    """Absent in CI fails the run; absent on a developer's machine skips, saying how to fix."""
    if present:
        return
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{missing}. {how}")
    pytest.skip(f"{missing} (CI fails here). {how}")


def require_browser_and_assets() -> None:
    require(
        CHROMIUM.is_file(),
        f"{CHROMIUM} not found",
        "Install Debian's Chromium: apt-get update && apt-get install -y chromium "
        "(.ci/run does this in CI).",
    )
    require(
        local_assets_present(),
        f"GraphiQL's files are not built in {ASSET_DIR.relative_to(ROOT)}",
        "Install Node.js and npm, then run `make install`.",
    )


def portfolio_document() -> str:
    """The Portfolio operation of the contract, as written there."""
    source = contract_documents()
    for definition in parse(source).definitions:
        if (
            isinstance(definition, OperationDefinitionNode)
            and definition.name is not None
            and definition.name.value == "Portfolio"
            and definition.loc is not None
        ):
            return source[definition.loc.start : definition.loc.end]
    raise LookupError("query Portfolio is not in tests/contract/operations.graphql")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def service(seeded: str, redis_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """`python app.py serve` on a free loopback port; yields its base URL."""
    require_browser_and_assets()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": seeded,
        "REDIS_URL": redis_url,
        "APP_ENV": "development",
        "GRAPHIQL": "true",
        "API_KEYS": "",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "CACHE_PREFIX": unique_prefix(),
        "CACHE_WARM_MARKETS": "0",
        "POOL_MIN_SIZE": "1",
        "POOL_MAX_SIZE": "2",
        "LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "service.log"
    stderr = log_file(log)
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "app.py",
            "serve",
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    finally:
        os.close(stderr)  # the child holds its own copy
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until_healthy(base, process, log)
        yield base
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()


def log_file(path: Path) -> int:
    """A descriptor for the service's log: its JSON lines go to stderr."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)


def read_log(path: Path) -> str:
    return path.read_text(errors="replace")


async def wait_until_healthy(base: str, process: asyncio.subprocess.Process, log: Path) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=1) as http:
        for _ in range(START_SECONDS * 10):
            if process.returncode is not None:
                pytest.fail(f"the service exited with {process.returncode}:\n{read_log(log)}")
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"the service did not answer /healthz in {START_SECONDS}s:\n{read_log(log)}")


async def user_with_active_positions(db: asyncpg.Connection) -> asyncpg.Record:
    """The seeded user with the fewest ACTIVE positions (at least two), for a short result."""
    row = await db.fetchrow(
        """
        SELECT u.telegram_id::text AS telegram_id,
               array_agg(p.id::text ORDER BY p.id) AS ids,
               array_agg(m.title ORDER BY p.id) AS titles
        FROM app_user u
        JOIN position p ON p.user_id = u.id AND p.status = 'ACTIVE'
        JOIN market m ON m.id = p.market_id
        GROUP BY u.id
        HAVING count(*) >= 2
        ORDER BY count(*), u.id
        LIMIT 1
        """
    )
    assert row is not None, "the seed made no user with two ACTIVE positions"
    return row


async def type_into(page: Page, editor: str, text: str) -> None:
    """Replace an editor's text as a paste would, then check it holds exactly that.

    Key-by-key typing would be rewritten by GraphiQL's autocompletion (Enter picks a hint) and
    bracket closing; `insert_text` sends the text as one input event, as a paste does.
    """
    await page.locator(editor).click()
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text(text)
    assert await editor_value(page, editor) == text


async def editor_value(page: Page, editor: str) -> str:
    value: str = await page.locator(editor).evaluate("element => element.CodeMirror.getValue()")
    return value


QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
VARIABLES_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESULT_PANE = ".graphiql-response .CodeMirror"


async def test_graphiql_runs_portfolio_offline(service: str, db: asyncpg.Connection) -> None:
    user = await user_with_active_positions(db)
    requested: list[str] = []
    blocked: list[str] = []
    page_errors: list[str] = []

    async def loopback_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort("internetdisconnected")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 880})
            await context.route("**/*", loopback_only)
            page = await context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.on("pageerror", lambda error: page_errors.append(str(error)))

            await page.goto(f"{service}/graphql", wait_until="load")
            await expect(page.locator(QUERY_EDITOR)).to_be_visible()
            await type_into(page, QUERY_EDITOR, portfolio_document())
            await page.get_by_role("button", name="Variables").click()
            await type_into(
                page, VARIABLES_EDITOR, json.dumps({"telegramId": user["telegram_id"]}, indent=2)
            )
            await page.get_by_role("button", name="Execute query").click()

            await page.wait_for_function(
                "selector => document.querySelector(selector).CodeMirror.getValue() !== ''",
                arg=RESULT_PANE,
            )
            result = json.loads(await editor_value(page, RESULT_PANE))
            # On screen, not only in the editor's model: the first position's market title.
            first_title = json.dumps(user["titles"][0], ensure_ascii=False)
            await expect(page.locator(RESULT_PANE)).to_contain_text(first_title)
            await page.screenshot(path=SCREENSHOT)
        finally:
            await browser.close()

    assert result.get("errors") is None, result["errors"]
    positions = result["data"]["user"]["positions"]
    assert [p["id"] for p in positions] == user["ids"]
    assert [p["market"]["title"] for p in positions] == user["titles"]
    assert page_errors == []
    assert blocked == [], f"the page asked for the internet: {blocked}"
    assert all(urlsplit(url).hostname == "127.0.0.1" for url in requested), requested
    loaded = {urlsplit(url).path for url in requested}
    assert {f"/graphiql/{asset.name}" for asset in ASSETS} <= loaded


def test_cdn_fallback_pins_the_same_files(tmp_path: Path) -> None:
    """With nothing built, the page takes the npm versions from the CDN, SRI-pinned."""
    html = bytes(render_graphiql(tmp_path).body).decode()
    versions = json.loads((ROOT / "graphiql" / "package.json").read_text())["dependencies"]
    for asset in ASSETS:
        package, _, _ = asset.cdn_path.partition("/")
        name, _, version = package.rpartition("@")
        assert version == versions[name], f"{asset.cdn_path}: graphiql/package.json has {version}"
        assert f'"{CDN}{asset.cdn_path}" integrity="{asset.integrity}"' in html
    assert 'src="graphiql/' not in html


def test_integrity_matches_the_built_files() -> None:
    """The SRI table describes the files npm installed, so the CDN fallback would load."""
    require(local_assets_present(), "GraphiQL's files are not built", "Run `make install`.")
    for asset in ASSETS:
        digest = hashlib.sha384((ASSET_DIR / asset.name).read_bytes()).digest()
        assert asset.integrity == "sha384-" + base64.b64encode(digest).decode(), asset.name


async def test_asset_route_serves_known_files_only(tmp_path: Path) -> None:
    (tmp_path / "graphiql.min.css").write_text("/* css */")
    (tmp_path / "package.json").write_text("{}")
    app = Starlette(routes=asset_routes(True, tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        assert (await http.get("/graphiql/graphiql.min.css")).text == "/* css */"
        assert (await http.get("/graphiql/package.json")).status_code == 404  # not an asset
        assert (await http.get("/graphiql/graphiql.min.js")).status_code == 404  # not built
    assert asset_routes(False, tmp_path) == []

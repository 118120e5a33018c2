"""GraphiQL in a real browser with no internet: the page, its files and a query, end to end.

The service runs as it does for a developer (`python app.py serve`, APP_ENV=development) on a
free loopback port, against the session's seeded database. Debian's Chromium, driven by
Playwright, may reach 127.0.0.1 only: every other request is aborted and recorded, so the test
proves the page needs no CDN. It types the contract's Portfolio query and a user's variables
into the editors, runs them, and finds that user's ACTIVE positions in the result pane. Then, on
a database seeded as `make run` seeds it, the page must open with a tab per contract operation,
the demo user's variables filled in: one click on the first tab (Portfolio) answers with that
user's positions as the database holds them. The screenshot goes to the test's folder; with
UPDATE_SCREENSHOT=1 it replaces docs/graphiql.png, the README's picture (`make screenshot`), so
that running the tests leaves the checkout as it was.

Playwright's own browser download (`playwright install`) is never used: it launches
/usr/bin/chromium. Missing Chromium or GraphiQL's built files fail the run in CI (CI set) and
skip it elsewhere, with how to get them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from graphql import OperationDefinitionNode, parse
from playwright.async_api import Page, Route, async_playwright, expect
from starlette.applications import Starlette

from seed import seed_database
from seed.demo import DEFAULT_SEED, DEFAULT_USERS, demo_user
from settings import ROOT
from sql.databases import scratch_database
from tests.conftest import contract_documents, unique_prefix
from web.graphiql import (
    ASSET_DIR,
    ASSETS,
    CDN,
    Tab,
    asset_routes,
    contract_tabs,
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
DOCS_SCREENSHOT = ROOT / "docs" / "graphiql.png"
START_SECONDS = 30


def screenshot_path(tmp_path: Path) -> Path:
    """The README's picture when asked (UPDATE_SCREENSHOT=1), else the test's own folder."""
    if os.environ.get("UPDATE_SCREENSHOT", "").lower() in ("1", "true", "yes"):
        return DOCS_SCREENSHOT
    return tmp_path / "graphiql.png"


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
    async with serve(seeded, redis_url, tmp_path) as base:
        yield base


@pytest.fixture
async def demo_database(server_url: str) -> AsyncIterator[str]:
    """A database seeded as `make run` seeds it: `python app.py seed`'s defaults."""
    require_browser_and_assets()
    async with scratch_database(server_url, "graphiql") as url:
        connection = await asyncpg.connect(url)
        try:
            await seed_database(connection, users=DEFAULT_USERS, seed=DEFAULT_SEED)
        finally:
            await connection.close()
        yield url


@contextlib.asynccontextmanager
async def serve(database_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[str]:
    require_browser_and_assets()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
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


async def test_graphiql_opens_on_the_contract_with_the_demo_user(
    demo_database: str, redis_url: str, tmp_path: Path
) -> None:
    operations = [
        d.name.value
        for d in parse(contract_documents()).definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    ]
    telegram_id = str(demo_user().user.telegram_id)
    db = await asyncpg.connect(demo_database)
    try:
        # What the Portfolio tab must show: the user's ACTIVE positions, newest first.
        expected = await db.fetch(
            """
            SELECT p.id::text AS id, m.title
            FROM position p JOIN app_user u ON u.id = p.user_id JOIN market m ON m.id = p.market_id
            WHERE u.telegram_id = $1 AND p.status = 'ACTIVE'
            ORDER BY p.opened_at DESC, p.id DESC
            """,
            int(telegram_id),
        )
    finally:
        await db.close()
    assert expected, "the demo user holds no ACTIVE position: nothing to show"
    page_errors: list[str] = []
    async with serve(demo_database, redis_url, tmp_path) as service, async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 880})
            await context.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if urlsplit(route.request.url).hostname == "127.0.0.1"
                    else route.abort("internetdisconnected")
                ),
            )
            page = await context.new_page()
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            await page.goto(f"{service}/graphql", wait_until="load")
            await expect(page.locator(QUERY_EDITOR)).to_be_visible()

            tabs = page.locator(".graphiql-tab")
            await expect(tabs).to_have_count(len(operations))
            assert [t.strip() for t in await tabs.all_inner_texts()] == operations
            # The first tab is open: Portfolio, with the demo user's variables. One click.
            assert "query Portfolio(" in await editor_value(page, QUERY_EDITOR)
            await page.get_by_role("button", name="Variables").click()
            variables = json.loads(await editor_value(page, VARIABLES_EDITOR))
            assert variables == {"telegramId": telegram_id}
            await page.get_by_role("button", name="Execute query").click()
            await page.wait_for_function(
                "selector => document.querySelector(selector).CodeMirror.getValue() !== ''",
                arg=RESULT_PANE,
            )
            result = json.loads(await editor_value(page, RESULT_PANE))
            title = json.dumps(expected[0]["title"], ensure_ascii=False)
            await expect(page.locator(RESULT_PANE)).to_contain_text(title)
            await page.screenshot(path=screenshot_path(tmp_path))
            # Another tab has its own variables: the user's first ACTIVE position.
            await tabs.filter(has_text="PositionDetail").click()
            await expect(page.locator(QUERY_EDITOR)).to_contain_text("query PositionDetail(")
            detail_variables = json.loads(await editor_value(page, VARIABLES_EDITOR))
            # The Triggers tab subscribes over WebSocket: a level fired meanwhile shows up.
            await tabs.filter(has_text="Triggers").click()
            await expect(page.locator(QUERY_EDITOR)).to_contain_text("subscription Triggers(")
            await page.get_by_role("button", name="Execute query").click()
            fired = await fire_until_shown(page, service, demo_database, expected[0]["id"])
        finally:
            await browser.close()

    assert fired["kind"] == "TAKE_PROFIT"
    assert fired["telegramId"] == telegram_id

    assert detail_variables == {"id": min(expected, key=lambda row: int(row["id"]))["id"]}
    assert result.get("errors") is None, result["errors"]
    user = result["data"]["user"]
    assert user["telegramId"] == telegram_id
    assert [(p["id"], p["market"]["title"]) for p in user["positions"]] == [
        (row["id"], row["title"]) for row in expected
    ]
    assert page_errors == []


async def fire_until_shown(
    page: Page, service: str, database: str, position_id: str
) -> dict[str, Any]:
    """Gives the position a take-profit level and lifts its price over it, until the result
    pane shows the event (the subscription starts when the browser's socket says so, which
    the page does not tell): at most five times."""
    db = await asyncpg.connect(database)
    try:
        row = await db.fetchrow(
            """
            SELECT p.market_id, p.outcome, m.outcomes FROM position p
            JOIN market m ON m.id = p.market_id WHERE p.id = $1
            """,
            int(position_id),
        )
        assert row is not None
        prices = ["0.6" if o == row["outcome"] else "0.4" for o in row["outcomes"]]
        async with httpx.AsyncClient(base_url=service) as http:
            for _ in range(5):
                await db.execute(
                    "UPDATE position SET take_profit_price = 0.5, stop_loss_price = NULL "
                    "WHERE id = $1",
                    int(position_id),
                )
                response = await http.post(
                    "/graphql",
                    json={
                        "query": "mutation($u: [MarketPriceInput!]!) "
                        "{ updateMarketPrices(updates: $u) { triggered { positionId } } }",
                        "variables": {
                            "u": [{"marketId": row["market_id"], "outcomePrices": prices}]
                        },
                    },
                )
                triggered = response.json()["data"]["updateMarketPrices"]["triggered"]
                assert {"positionId": position_id} in triggered, response.text
                try:
                    await expect(page.locator(RESULT_PANE)).to_contain_text(
                        f'"positionId": "{position_id}"', timeout=1000
                    )
                except AssertionError:
                    continue
                shown = json.loads(await editor_value(page, RESULT_PANE))
                event: dict[str, Any] = shown["data"]["triggers"]
                assert event["positionId"] == position_id
                return event
    finally:
        await db.close()
    pytest.fail("the Triggers tab showed no event for five levels fired")


def test_each_contract_operation_is_a_tab_with_the_variables_it_declares() -> None:
    """Without a browser: the tabs the page is given, one per operation, in the file's order."""
    operations = [
        d.name.value
        for d in parse(contract_documents()).definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    ]
    tabs = contract_tabs({"Portfolio": {"telegramId": "42", "undeclared": 1}})
    assert [tab.name for tab in tabs] == operations
    for tab in tabs:
        [operation] = parse(tab.query).definitions
        assert isinstance(operation, OperationDefinitionNode)
        assert operation.name is not None
        assert operation.name.value == tab.name
    assert json.loads(tabs[0].variables) == {"telegramId": "42"}
    assert all(json.loads(tab.variables) == {} for tab in tabs[1:])
    html = bytes(render_graphiql(tabs=[Tab("X", "query X { a } # </script>", "{}")]).body)
    assert b'</script>"' not in html  # the document cannot close the page's script
    assert b"\\u003c/script>" in html


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

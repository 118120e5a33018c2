"""GraphiQL's page on GET /graphql: its files from this service, the public CDN only as a fallback.

`make install` fetches GraphiQL from the npm registry (`graphiql/package-lock.json`) and copies
the four files the page needs into `graphiql/dist/`; `asset_routes` serves them under /graphiql/,
so the page works with no internet. Which source a page uses is decided on every render: all four
files present means local; otherwise (npm was absent, the build failed or was never run) the page
takes the same versions from unpkg, pinned by SRI hashes. A `<script onerror>` fallback was not
used: every load would first ask for the missing files, and a stylesheet has no clean fallback.

GraphiQL 4.1.2 is the newest release that ships a prebuilt UMD bundle (`window.GraphiQL`) running
on React 18's UMD builds: static files, no bundler. GraphiQL 5 ships ES modules only (Monaco and
its web workers), which would need one; React 19 has no UMD builds.

The page opens with one tab per operation of the bot's contract (tests/contract/operations.graphql,
read once when the service starts), each with the variables of the demo user `seed` makes
(seed/demo.py), so after `make run` a click answers with real rows. Subscriptions (Triggers) go
over the same path by WebSocket: the bundle carries graphql-ws's client.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Final

from graphql import GraphQLError, OperationDefinitionNode, parse
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from settings import ROOT

log = logging.getLogger(__name__)

CONTRACT: Final = ROOT / "tests" / "contract" / "operations.graphql"
ASSET_DIR: Final = ROOT / "graphiql" / "dist"
# Relative to the page (GET /graphql), so the files resolve under any mount prefix.
ASSET_URL: Final = "graphiql/"
CDN: Final = "https://unpkg.com/"


@dataclass(frozen=True)
class Asset:
    """One file the page loads: its name in graphiql/dist, its path on the CDN, its SRI hash.

    The hash is of the npm tarball's file, which is what unpkg serves; the browser test checks
    it against the built files, so a version bump that forgets this table fails there.
    """

    name: str
    cdn_path: str
    integrity: str


STYLESHEET: Final = Asset(
    "graphiql.min.css",
    "graphiql@4.1.2/graphiql.min.css",
    "sha384-1el1QShFBnnXTx9x/Cprg82hZWKt0ry29OAYIXt05swbi0KcZDFoj0CWguMpopJr",
)
# In load order: GraphiQL's UMD bundle expects window.React and window.ReactDOM.
SCRIPTS: Final = (
    Asset(
        "react.production.min.js",
        "react@18.3.1/umd/react.production.min.js",
        "sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
    ),
    Asset(
        "react-dom.production.min.js",
        "react-dom@18.3.1/umd/react-dom.production.min.js",
        "sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
    ),
    Asset(
        "graphiql.min.js",
        "graphiql@4.1.2/graphiql.min.js",
        "sha384-9XdHu7ajgGJziD4J1zNBKQ842Q/+zZfDv+ib1eMhZWBH6hPAs806x+Jbcf0yNO6B",
    ),
)
ASSETS: Final = (STYLESHEET, *SCRIPTS)
_NAMES: Final = frozenset(asset.name for asset in ASSETS)

_PAGE: Final = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Polycool API · GraphiQL</title>
<link rel="icon" href="data:,">
<style>body { margin: 0; } #graphiql { height: 100vh; }</style>
$stylesheet
$scripts
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script>
const tabs = $tabs;
// GraphiQL 4 opens its first tab without that tab's variables unless given them; a browser that
// has been here before keeps its own tabs (GraphiQL's storage), which win.
const firstVisit = localStorage.getItem("graphiql:tabState") === null;
const endpoint = location.host + location.pathname;
const fetchOverHttpOrWebSocket = GraphiQL.createFetcher({
  url: location.protocol + "//" + endpoint,
  // Triggers: graphql-transport-ws on the same path.
  subscriptionUrl: (location.protocol === "https:" ? "wss://" : "ws://") + endpoint,
});
// GraphiQL 4 hands the fetcher the operation name and parsed document of the tab it showed
// before a tab switch, until the text is edited; its fetcher then runs the wrong operation, or
// a subscription over HTTP. Both are taken from the text sent instead.
const operationsIn = (query) =>
  [...query.replace(/#[^\\n]*/g, "").matchAll(OPERATION)].map(([, operation, name]) => ({
    kind: "OperationDefinition",
    operation,
    name: name ? { kind: "Name", value: name } : undefined,
  }));
const OPERATION = /(?:^|[\\s}])(query|mutation|subscription)\\b\\s*([_A-Za-z]\\w*)?/g;
const fetcher = (params, options) => {
  const definitions = operationsIn(params.query);
  const names = definitions.map((definition) => definition.name && definition.name.value);
  const operationName = names.includes(params.operationName)
    ? params.operationName
    : names.length === 1 ? names[0] : undefined;
  return fetchOverHttpOrWebSocket(
    { ...params, operationName },
    { ...options, documentAST: { kind: "Document", definitions } },
  );
};
ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {
    fetcher,
    defaultEditorToolsVisibility: true,
    // Headers may carry an API key: keep them out of localStorage.
    shouldPersistHeaders: false,
    // The bot's documents, one tab each, with the demo user's variables.
    defaultTabs: tabs,
    variables: firstVisit && tabs ? tabs[0].variables : undefined,
    defaultQuery: "# Polycool API. The bot's documents:\\n# tests/contract/operations.graphql\\n",
  }),
);
</script>
</body>
</html>
""")


def local_assets_present(directory: Path = ASSET_DIR) -> bool:
    return all((directory / asset.name).is_file() for asset in ASSETS)


@dataclass(frozen=True)
class Tab:
    """One of GraphiQL's tabs: an operation of the contract and its variables (JSON text)."""

    name: str
    query: str
    variables: str


def contract_tabs(variables: dict[str, dict[str, object]], contract: Path = CONTRACT) -> list[Tab]:
    """A tab per operation of the contract, in its order: the operation's text with the comment
    lines right above it, and those of `variables` it declares (so a tab never sends more)."""
    try:
        source = contract.read_text()
        document = parse(source)
    except (OSError, GraphQLError) as error:
        log.warning("GraphiQL opens without the contract's tabs: %s", error)
        return []
    lines = source.splitlines(keepends=True)
    tabs = []
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode) or definition.loc is None:
            continue
        name = definition.name.value if definition.name else ""
        first = definition.loc.start_token.line - 1  # 0-based line of the operation
        while first > 0 and lines[first - 1].startswith("#"):
            first -= 1
        text = "".join(lines[first : definition.loc.end_token.line]).rstrip() + "\n"
        declared = {v.variable.name.value for v in definition.variable_definitions or ()}
        given = {k: v for k, v in variables.get(name, {}).items() if k in declared}
        tabs.append(Tab(name, text, json.dumps(given, indent=2, ensure_ascii=False)))
    return tabs


def render_graphiql(directory: Path = ASSET_DIR, tabs: list[Tab] | None = None) -> HTMLResponse:
    """The page, with local files when every one of them is built, else the CDN's."""
    if local_assets_present(directory):
        stylesheet = f'<link rel="stylesheet" href="{ASSET_URL}{STYLESHEET.name}">'
        scripts = [f'<script src="{ASSET_URL}{asset.name}"></script>' for asset in SCRIPTS]
    else:
        stylesheet = f'<link rel="stylesheet" {_cdn_attributes("href", STYLESHEET)}>'
        scripts = [f"<script {_cdn_attributes('src', asset)}></script>" for asset in SCRIPTS]
    default_tabs = [{"query": tab.query, "variables": tab.variables} for tab in tabs or []]
    # In a <script>: "<" escaped, so no text of a document can close it.
    tabs_json = json.dumps(default_tabs).replace("<", "\\u003c") if default_tabs else "undefined"
    return HTMLResponse(
        _PAGE.substitute(stylesheet=stylesheet, scripts="\n".join(scripts), tabs=tabs_json)
    )


def _cdn_attributes(attribute: str, asset: Asset) -> str:
    """Pinned by SRI, so only the npm file's exact bytes run; CORS, so the browser can check."""
    url = CDN + asset.cdn_path
    return f'{attribute}="{url}" integrity="{asset.integrity}" crossorigin="anonymous"'


def asset_routes(enabled: bool, directory: Path = ASSET_DIR) -> list[BaseRoute]:
    """GET /graphiql/{name} for the four known files; none when GraphiQL is off.

    A route of its own rather than StaticFiles: it serves those names only, and answers 404
    (not StaticFiles' error for a missing folder) when they were never built.
    """

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        path = directory / name
        if name not in _NAMES or not path.is_file():
            return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(path)

    if not enabled:
        return []
    return [Route("/" + ASSET_URL + "{name}", asset, methods=["GET"], name="graphiql_asset")]

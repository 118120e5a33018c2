"""`python app.py serve`, plus a gate a test can close before one fill: races across processes.

`python -m tests.cache.gated_server` serves `create_app(Settings.from_env(os.environ))` with
uvicorn in one process, as `serve` does, and answers three routes of its own beside it:

    POST /gate/arm?kind=user_positions   the next fill of that kind will wait (the store's
                                         before_fill hook, as the in-process race tests use it)
    GET  /gate/reached                   204 once a fill waits there (its SQL has run); 504 if
                                         none does within the gate's timeout
    POST /gate/release                   lets that fill go on

With UNGUARDED_FILL=1 its fills ignore the version they saw (tests/cache/races.py), for the
controls. The service itself never has these routes or that switch: they live here, in tests/.
"""

from __future__ import annotations

import asyncio
import os

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

import cache.read_through
from app import create_app
from settings import Settings
from telemetry.logs import configure_logging
from tests.cache.races import TIMEOUT, Gate, unguarded_fill


def with_gate(app: Starlette) -> ASGIApp:
    """`app`, with /gate/... answered by a small app of the runner's own (lifespan and every
    other path go to `app` untouched)."""
    armed: list[Gate] = []

    async def arm(request: Request) -> Response:
        gate = Gate(request.query_params["kind"])
        armed.append(gate)
        app.state.cache.before_fill = gate
        return Response(status_code=204)

    async def reached(request: Request) -> Response:
        try:
            await asyncio.wait_for(armed[-1].reached.wait(), TIMEOUT)
        except TimeoutError:
            return Response(f"no {armed[-1].kind} fill reached the gate", status_code=504)
        return Response(status_code=204)

    async def release(request: Request) -> Response:
        armed[-1].release.set()
        return Response(status_code=204)

    gates = Starlette(
        routes=[
            Route("/gate/arm", arm, methods=["POST"]),
            Route("/gate/reached", reached, methods=["GET"]),
            Route("/gate/release", release, methods=["POST"]),
        ]
    )

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/gate/"):
            await gates(scope, receive, send)
        else:
            await app(scope, receive, send)

    return serve


def main() -> None:
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level)
    if os.environ.get("UNGUARDED_FILL") == "1":
        cache.read_through.FILL = unguarded_fill()
    app = with_gate(create_app(settings))
    uvicorn.run(app, host=settings.host, port=settings.port, access_log=False, log_config=None)


if __name__ == "__main__":
    main()

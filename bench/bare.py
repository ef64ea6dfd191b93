"""The bare comparator: a Starlette app that answers a fixed JSON body and echoes POSTs.

It runs on exactly the uvicorn settings the reference server's ``serve`` uses (see
`reference_impl.server.run`), so a ratio of the two measures what the reference server adds:
authentication, validation, the database and the domain logic.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BODY_ENV = "EGOV_BENCH_BARE_BODY"
"""A file holding the JSON document GET answers (the reference's dossier, byte for byte)."""


def create_app() -> Starlette:
    """The bare app: ``GET /dossiers/{id}`` answers the document, ``POST /echo`` its body."""
    path = os.environ.get(BODY_ENV)
    document: Any = json.loads(Path(path).read_bytes()) if path else {"status": "draft"}

    async def read(_request: Request) -> Response:
        return JSONResponse(document, headers={"ETag": '"1"'})

    async def echo(request: Request) -> Response:
        return Response(await request.body(), media_type="application/json")

    async def ready(_request: Request) -> Response:
        return JSONResponse({"items": []})

    return Starlette(
        routes=[
            Route("/dossiers/{dossierId}", read, methods=["GET"]),
            Route("/echo", echo, methods=["POST"]),
            Route("/agencies", ready, methods=["GET"]),
        ]
    )


def main() -> None:
    """Serve the bare app with the reference server's uvicorn settings."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="warning")
    arguments = parser.parse_args()
    uvicorn.run(
        "bench.bare:create_app",
        factory=True,
        host=arguments.host,
        port=arguments.port,
        workers=arguments.workers,
        log_level=arguments.log_level,
        access_log=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()

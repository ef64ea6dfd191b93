"""The Starlette application: one route per operation of every spec."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .clock import Clock
from .dispatch import make_endpoint, problem_response
from .events import Deliverer
from .fault_hooks import ERROR_FAULTS, SpoiledErrors
from .handlers import all_handlers
from .operations import compile_operations
from .problems import Problem
from .routing import SegmentRoutes
from .services import Services
from .settings import Settings
from .tokens import SELF_CLIENT_ID, access_token, system_claims
from .variants import VariantLayer, shape_handlers


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> Starlette:
    """Build the reference server for ``settings`` (defaults: embedded SQLite)."""
    services = Services.build(settings or Settings(), clock)
    services.database.create_tables()
    # Load (or create) every signing key now: creating one later opens its own transaction,
    # which would wait forever on SQLite's lock when a handler signs inside its transaction.
    for purpose in ("identity", "agency", "platform"):
        services.keys.key(purpose)
    deliverer = _outbox(services)
    handlers = shape_handlers(all_handlers(), services.settings)
    by_path: dict[str, dict[str, Endpoint]] = {}
    for operation in compile_operations(services.contract):
        endpoint = make_endpoint(operation, handlers.get(operation.operation_id), services)
        by_path.setdefault(operation.path, {})[operation.method] = endpoint
    # One route per path, so that a 405 names in Allow every method the path takes.
    # Literal paths first: /payments/notifications must not be taken for /payments/{paymentId}.
    ordered = sorted(by_path.items(), key=lambda item: item[0].count("{"))
    routes = [
        Route(path, _by_method(endpoints), methods=sorted(endpoints)) for path, endpoints in ordered
    ]

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        background = services.start_background()
        try:
            yield
        finally:
            await background.stop()
            await deliverer.close()
            services.database.dispose()

    app = Starlette(
        routes=[SegmentRoutes(routes)],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_problem},  # type: ignore[dict-item]
    )
    app.state.services = services
    if services.settings.faults & ERROR_FAULTS:  # mutation testing: spoil the error answers
        app.add_middleware(SpoiledErrors, faults=services.settings.faults)
    if services.settings.variants:
        app.add_middleware(VariantLayer, settings=services.settings)
    return app


def _outbox(services: Services) -> Deliverer:
    """The outbox deliverer, run every ``outbox_interval_seconds`` (0 leaves it to the caller)."""

    def push_headers() -> dict[str, str]:
        # The server's one-stop role calls the NPSP sync as a state system; a fresh token per
        # push, so a retry hours later never carries an expired one.
        token, _ = access_token(services, system_claims(SELF_CLIENT_ID))
        return {"Authorization": f"Bearer {token}"}

    deliverer = Deliverer(services, push_headers)

    async def deliver() -> None:
        await deliverer.run_once()

    if services.settings.outbox_interval_seconds > 0:
        services.add_job(services.settings.outbox_interval_seconds, deliver, "outbox")
    return deliverer


Endpoint = Callable[[Request], Awaitable[Response]]


def _by_method(endpoints: dict[str, Endpoint]) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await endpoints[method](request)

    return endpoint


async def _http_problem(_request: Request, exc: HTTPException) -> Response:
    detail = {
        404: "No operation of the contract is served at this path.",
        405: "This path does not take that method; see the spec for the methods it takes.",
    }.get(exc.status_code, str(exc.detail))
    response = problem_response(Problem(exc.status_code, detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response

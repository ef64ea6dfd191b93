"""Routes grouped by their first path segment, so a request is matched against a few, not all.

Starlette's router tries every route in order until one matches. With one route per path of
every spec (65 of them), a request for ``/dossiers/{id}`` tried some thirty regular expressions
first. Every path of the contract starts with a literal segment, and routes whose first
segments differ can never match the same path, so trying only the routes of the request's
first segment, in their original order, chooses exactly the route Starlette would have.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import Receive, Scope, Send

_MATCHED = "egov_route"


def _first_segment(path: str) -> str:
    return path.split("/", 2)[1] if path.startswith("/") else ""


def _route_path(scope: Scope) -> str:
    """The path the routes see: the request's, less the ``root_path`` it is mounted under."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path + "/"):
        return path[len(root_path) :]
    return path


class SegmentRoutes(BaseRoute):
    """The routes of the contract, indexed by first path segment; behaves as the list would."""

    def __init__(self, routes: Sequence[Route]) -> None:
        for route in routes:
            if route.path.startswith("/{"):
                raise ValueError(f"{route.path} starts with a parameter; it cannot be indexed")
        self.routes = list(routes)
        self._by_segment: dict[str, list[Route]] = {}
        for route in self.routes:
            self._by_segment.setdefault(_first_segment(route.path), []).append(route)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """The first full match among the segment's routes, else its first partial (405)."""
        if scope["type"] != "http":
            return Match.NONE, {}
        partial: tuple[Route, Scope] | None = None
        for route in self._by_segment.get(_first_segment(_route_path(scope)), ()):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return match, {**child_scope, "route": route, _MATCHED: route}
            if match is Match.PARTIAL and partial is None:
                partial = (route, child_scope)
        if partial is not None:
            route, child_scope = partial
            return Match.PARTIAL, {**child_scope, "route": route, _MATCHED: route}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand the request to the route `matches` chose."""
        route: Route = scope[_MATCHED]
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The path of the route named ``name``, as the plain list of routes would give it."""
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                continue
        raise NoMatchFound(name, path_params)

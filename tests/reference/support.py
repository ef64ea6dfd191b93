"""Assertions the reference server's tests share."""

from __future__ import annotations

from typing import Any


def ok(response: Any, status: int = 200) -> Any:
    """The JSON body of a response that must have ``status``."""
    assert response.status_code == status, response.text
    return response.json()


def assert_problem(response: Any, status: int, pointer: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem with ``status``, naming ``pointer`` among its errors when given."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if pointer is not None:
        assert pointer in [e["pointer"] for e in body.get("errors", [])], body
    return body

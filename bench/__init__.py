"""Benchmarks of the reference server beside a bare Starlette app: ``python -m bench``.

The bench starts every server as a process of its own and talks to it over loopback only, so it
imports `egov_contract` and HTTP clients, never `reference_impl` (see ARCHITECTURE.md).
"""

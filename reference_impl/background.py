"""Periodic jobs that run beside the request handlers (the event outbox, the sync push)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("reference_impl.background")

Job = Callable[[], Awaitable[None]]


class Background:
    """Runs each job every ``interval`` seconds until stopped; a failing run is logged."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    def every(self, interval: float, job: Job, name: str) -> None:
        """Start running ``job`` every ``interval`` seconds."""
        self._tasks.append(asyncio.create_task(self._loop(interval, job, name), name=name))

    async def _loop(self, interval: float, job: Job, name: str) -> None:
        while not self._stopping.is_set():
            try:
                await job()
            except Exception:
                log.exception("background job %s failed; it will run again", name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=interval)

    async def stop(self) -> None:
        """Stop every job and wait for them to end."""
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

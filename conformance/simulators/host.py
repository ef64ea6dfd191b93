"""`SimulatorHost`: one small Starlette app on uvicorn in a background thread.

The counterparts the kit plays (the notified agency, the NPSP, the portal a payment platform
notifies) are each a handful of routes; one host serves them all on one port, so a vendor
opens one address to the target, not one per simulator.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from ..outcomes import HarnessError

_START_SECONDS = 10.0
_STOP_SECONDS = 10.0


class SimulatorHost:
    """Serves the routes of every simulator mounted on it, on ``host``:``port``.

    ``port`` ``None`` takes any free port. ``public_url`` is the address the target reaches
    the host at when it differs from the listening one (a container, a tunnel); every URL
    the simulators hand to the target is built on `base_url`.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int | None = None, public_url: str | None = None
    ) -> None:
        self.host = host
        self.requested_port = port
        self.public_url = public_url.rstrip("/") if public_url else None
        self._mounts: list[BaseRoute] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def mount(self, prefix: str, routes: Sequence[BaseRoute]) -> None:
        """Serve ``routes`` under ``prefix`` (``/events``…); only before `start`."""
        if self._server is not None:
            raise HarnessError("SimulatorHost.mount: the host is already serving; mount first")
        self._mounts.append(Mount(prefix, routes=list(routes)))

    @property
    def running(self) -> bool:
        """True between `start` and `stop`."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The port the host listens on (known once started)."""
        if self._socket is None:
            raise HarnessError("SimulatorHost.port: the host has not been started")
        return int(self._socket.getsockname()[1])

    @property
    def base_url(self) -> str:
        """Where the target reaches the host: the public URL, else ``http://host:port``."""
        if self.public_url:
            return self.public_url
        host = self.host
        if host in ("0.0.0.0", "::"):  # listening everywhere: loopback is one sure address
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind, start serving in a daemon thread, and return once requests are answered."""
        if self._server is not None:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.requested_port or 0))
        except OSError as problem:
            listener.close()
            raise HarnessError(
                f"the simulators cannot listen on {self.host}:{self.requested_port or 0}: "
                f"{problem}; choose another simulators.port in the target configuration"
            ) from None
        listener.listen(64)
        app = Starlette(routes=self._mounts)
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=5
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [listener]}, name="egov-simulators", daemon=True
        )
        self._server, self._thread, self._socket = server, thread, listener
        thread.start()
        deadline = time.monotonic() + _START_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise HarnessError(
                    f"the simulators did not start on {self.host}:{self.requested_port or 0} "
                    f"within {_START_SECONDS:.0f} s"
                )
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving and release the port; harmless when not started."""
        server, thread, listener = self._server, self._thread, self._socket
        self._server = self._thread = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(_STOP_SECONDS)
        if listener is not None:
            listener.close()
        self._socket = None

    def __enter__(self) -> SimulatorHost:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

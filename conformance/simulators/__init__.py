"""The counterparts the kit plays for the target: small Starlette apps on one uvicorn host.

`start(config)` serves them all on the configuration's ``simulators`` address (loopback and any
free port by default) and returns a `Simulators` to hand to the tests:

- `EventReceiver`: a subscribed agency's webhook endpoint (events, signatures checked);
- `NpspSync`: the National Public Service Portal's sync endpoint (pushes recorded);
- `PaymentNotificationReceiver`: the portal a payment platform notifies (``secureHash`` checked);
- `IdentityProvider`: an issuer the target trusts, whose tokens the kit mints (``/idp``).

`OnDemand` starts them on first use, for a run or for the set-up checks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..config import TargetConfig
from .events import EventReceiver, ReceivedEvent, webhook_signature
from .host import SimulatorHost
from .identity import IdentityProvider
from .npsp import NpspSync, SyncPush
from .portal import PaymentNotificationReceiver, ReceivedNotification, secure_hash

__all__ = [
    "EventReceiver",
    "IdentityProvider",
    "NpspSync",
    "OnDemand",
    "PaymentNotificationReceiver",
    "ReceivedEvent",
    "ReceivedNotification",
    "SimulatorHost",
    "Simulators",
    "SyncPush",
    "secure_hash",
    "start",
    "webhook_signature",
]


@dataclass(frozen=True)
class Simulators:
    """The running simulators of one run, on one host."""

    host: SimulatorHost
    events: EventReceiver
    npsp: NpspSync
    portal: PaymentNotificationReceiver
    identity: IdentityProvider
    fixed_address: bool
    """True when the configuration fixes where the simulators are (``simulators.port`` or
    ``publicBaseUrl``), so the target can have been set up beforehand to call them."""

    def stop(self) -> None:
        """Stop serving."""
        self.host.stop()


def build(config: TargetConfig) -> Simulators:
    """Every simulator mounted on one host at the configuration's address (not started)."""
    host = SimulatorHost(config.simulator_host, config.simulator_port, config.simulator_public_url)
    return Simulators(
        host=host,
        events=EventReceiver(host),
        npsp=NpspSync(host),
        portal=PaymentNotificationReceiver(host),
        identity=IdentityProvider(host),
        fixed_address=bool(config.simulator_port or config.simulator_public_url),
    )


def start(config: TargetConfig) -> Simulators:
    """Every simulator, serving; stop them with `Simulators.stop`."""
    simulators = build(config)
    simulators.host.start()
    return simulators


class OnDemand:
    """The simulators of ``config``, started by the first call and stopped by `stop`."""

    def __init__(self, config: TargetConfig) -> None:
        self._config = config
        self._running: Simulators | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Simulators:
        with self._lock:
            if self._running is None:
                self._running = start(self._config)
            return self._running

    @property
    def started(self) -> bool:
        """True once a call has started them (and `stop` has not been called since)."""
        return self._running is not None

    def stop(self) -> None:
        """Stop them, if started."""
        with self._lock:
            running, self._running = self._running, None
        if running is not None:
            running.stop()

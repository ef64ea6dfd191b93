"""The reference implementation: every interface of the contract on one server.

It plays every role of the chain (national portal, one-stop system, payment platform, data
repository, identity sandbox) so that the whole procedure of Decree 45/2020/ND-CP runs on one
machine. It reads the contract through `egov_contract` and never imports `conformance`.
"""

from .app import create_app
from .clock import Clock, FixedClock, SystemClock
from .settings import Settings

__all__ = ["Clock", "FixedClock", "Settings", "SystemClock", "create_app"]

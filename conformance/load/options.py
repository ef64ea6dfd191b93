"""The settings of a load run: defaults, the user mix, the workload model, the duration cap.

Read once per process from locust's parsed options (which also read ``EGOV_LOAD_*`` environment
variables) into one frozen `LoadSettings`. No locust import: the CLI validates the same values
before it starts locust, so a typo is a one-line error instead of a traceback in a subprocess.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

DEFAULT_USERS = 10
DEFAULT_DURATION = 300.0
"""Seconds a run lasts when nothing says otherwise; every run is bounded."""
DEFAULT_MAX_DURATION = 3600.0
"""The longest run the kit agrees to; ``EGOV_LOAD_MAX_DURATION`` or ``--max-duration`` moves it."""
DEFAULT_SAMPLE_EVERY = 20
"""One response in this many (per operation, the first always) is checked against the contract."""
DEFAULT_THINK = (0.5, 2.0)
"""Seconds a user of the closed workload pauses between two actions."""

ROLES = ("applicant", "visitor", "officer", "platform")
"""The user classes of the mix: signed-in applicants, anonymous visitors of the catalogue,
officers of the receiving agency, and the payment platform's notification deliveries."""
DEFAULT_MIX: Mapping[str, int] = MappingProxyType(
    {"applicant": 6, "visitor": 3, "officer": 2, "platform": 1}
)
WORKLOADS = ("closed", "open")


class OptionError(ValueError):
    """A load option has a value that makes no run; the message names it and the fix."""


def max_duration(value: float | str | None = None) -> float:
    """The duration cap: ``value`` if given, else ``EGOV_LOAD_MAX_DURATION``, else one hour."""
    raw = value if value not in (None, "") else os.environ.get("EGOV_LOAD_MAX_DURATION")
    if raw is None or raw == "":
        return DEFAULT_MAX_DURATION
    try:
        cap = float(raw)
    except ValueError:
        raise OptionError(f"the duration cap must be a number of seconds, got {raw!r}") from None
    if cap <= 0:
        raise OptionError(f"the duration cap must be positive, got {cap}")
    return cap


def parse_mix(text: str | None) -> dict[str, int]:
    """Weights of the user classes from ``applicant=6,officer=2,...``; roles left out keep theirs.

    A weight of 0 leaves that kind of user out of the run.
    """
    mix = dict(DEFAULT_MIX)
    for part in (text or "").split(","):
        if not part.strip():
            continue
        role, separator, weight = part.partition("=")
        role = role.strip()
        if not separator or role not in ROLES:
            raise OptionError(
                f"the user mix wants ROLE=WEIGHT with ROLE one of {', '.join(ROLES)}; got {part!r}"
            )
        try:
            mix[role] = int(weight)
        except ValueError:
            raise OptionError(
                f"the weight of {role!r} must be an integer, got {weight!r}"
            ) from None
        if mix[role] < 0:
            raise OptionError(f"the weight of {role!r} cannot be negative, got {mix[role]}")
    if not any(mix.values()):
        raise OptionError("the user mix leaves no user at all; give one role a positive weight")
    return mix


def parse_think(text: str | None) -> tuple[float, float]:
    """Think time ``MIN-MAX`` (or one number) in seconds for the closed workload."""
    if not text:
        return DEFAULT_THINK
    low, _, high = text.partition("-")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise OptionError(f"the think time wants MIN-MAX seconds, got {text!r}") from None
    if bounds[0] < 0 or bounds[1] < bounds[0]:
        raise OptionError(f"the think time wants 0 <= MIN <= MAX, got {text!r}")
    return bounds


@dataclass(frozen=True)
class LoadSettings:
    """What one process of a load run needs to know. Read once, never changed.

    Attributes:
        target: a target configuration file or a bare base URL (the reference sandbox layout).
        users: the peak number of concurrent users.
        workload: ``closed`` (users wait for answers, then think) or ``open`` (arrivals at a
            fixed rate whatever the answers take).
        rate: arrivals per second at the peak user count (open workload).
        mix: the weight of each user class.
        sample_every: one response in this many is checked against the contract; 0 checks none.
        think: the closed workload's pause between actions, ``(min, max)`` seconds.
        report_dir: where measurements, accepted dossier ids and the summary are written.
        slo: the service-level file to judge the run by, if any.
        shape: the traffic shape's name.
        duration: the run time in seconds.
    """

    target: str
    users: int = DEFAULT_USERS
    workload: str = "closed"
    rate: float | None = None
    mix: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_MIX))
    sample_every: int = DEFAULT_SAMPLE_EVERY
    think: tuple[float, float] = DEFAULT_THINK
    report_dir: str | None = None
    slo: str | None = None
    shape: str = "steady"
    duration: float = DEFAULT_DURATION

    def __post_init__(self) -> None:
        if self.workload not in WORKLOADS:
            raise OptionError(f"the workload is 'closed' or 'open', got {self.workload!r}")
        if self.workload == "open" and not (self.rate and self.rate > 0):
            raise OptionError("the open workload needs a positive --rate (arrivals per second)")
        if self.users < 1:
            raise OptionError(f"the user count must be at least 1, got {self.users}")
        if self.sample_every < 0:
            raise OptionError(f"--sample-every must be 0 (off) or more, got {self.sample_every}")

    @property
    def pacing(self) -> float | None:
        """Seconds between two arrivals of one user in the open workload; None when closed.

        The rate is shared among the peak users, so a shape that lowers the user count lowers
        the arrival rate with it: the shape drives the arrivals, the answers do not.
        """
        if self.workload != "open" or not self.rate:
            return None
        return self.users / self.rate

    @classmethod
    def from_options(cls, options: Any, host: str | None = None) -> LoadSettings:
        """The settings from locust's parsed options (custom ``--egov-*`` ones included)."""
        target = getattr(options, "egov_target", None) or host or getattr(options, "host", None)
        if not target:
            raise OptionError("no target: give --host or --egov-target (a file or a base URL)")
        return cls(
            target=str(target),
            users=int(
                getattr(options, "egov_users", None)
                or getattr(options, "num_users", None)
                or DEFAULT_USERS
            ),
            workload=str(getattr(options, "egov_workload", None) or "closed"),
            rate=float(options.egov_rate) if getattr(options, "egov_rate", None) else None,
            mix=parse_mix(getattr(options, "egov_mix", None)),
            sample_every=int(getattr(options, "egov_sample_every", DEFAULT_SAMPLE_EVERY)),
            think=parse_think(getattr(options, "egov_think", None)),
            report_dir=getattr(options, "egov_report", None) or None,
            slo=getattr(options, "egov_slo", None) or None,
            shape=str(getattr(options, "egov_shape", None) or "steady"),
            duration=float(getattr(options, "run_time", None) or DEFAULT_DURATION),
        )

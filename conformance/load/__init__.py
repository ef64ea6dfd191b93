"""Load tests: realistic traffic against a portal, judged by service levels.

The public face here imports no locust (gevent's monkey-patching would reach whoever imports
it): `users`, `shapes`, `hooks` and `locustfile` are for locust processes only, and
`egov-conformance load` starts locust as a subprocess through `run_load`.
"""

from .options import LoadSettings, OptionError
from .profiles import PROFILES, Profile, profile
from .runner import LoadRequest, run_load
from .slo import Level, ServiceLevels, SloError, evaluate, load_service_levels
from .summary import build_summary, exit_code

__all__ = [
    "Level",
    "LoadRequest",
    "LoadSettings",
    "OptionError",
    "PROFILES",
    "Profile",
    "ServiceLevels",
    "SloError",
    "build_summary",
    "evaluate",
    "exit_code",
    "load_service_levels",
    "profile",
    "run_load",
]

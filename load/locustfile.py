"""Realistic traffic against a national portal, for plain locust (see load/README.md).

    locust -f load/locustfile.py --host http://127.0.0.1:8000

The classes, the shape and the hooks live in `conformance.load`; this file only hands them to
locust, so ``egov-conformance load`` and plain locust run the same scenario.
"""

from conformance.load.locustfile import (
    ApplicantUser,
    OfficerUser,
    PlatformUser,
    SelectedShape,
    VisitorUser,
)

__all__ = ["ApplicantUser", "OfficerUser", "PlatformUser", "SelectedShape", "VisitorUser"]

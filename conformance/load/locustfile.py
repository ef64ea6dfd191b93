"""The kit's locustfile: the user classes, one traffic shape, and the kit's event hooks.

``egov-conformance load`` runs locust on this file; ``load/locustfile.py`` at the repository
root re-exports it for plain ``locust -f``. Locust takes every User class and the one shape
class it finds here, so nothing else is imported by name.
"""

from conformance.load import hooks as _hooks  # noqa: F401  importing registers the event hooks
from conformance.load.shapes import SelectedShape
from conformance.load.users import ApplicantUser, OfficerUser, PlatformUser, VisitorUser

__all__ = ["ApplicantUser", "OfficerUser", "PlatformUser", "SelectedShape", "VisitorUser"]

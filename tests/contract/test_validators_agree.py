"""Where a schema leans on a ``format``, its pattern is at least as strict as other validators.

Python's jsonschema checks ``format: email`` only for an ``@``; jsonschema-rs (which schemathesis
and many vendors use) checks RFC 5321. A value one accepts and the other refuses would make the
contract mean two things, so every string the pattern admits must pass jsonschema-rs too.
"""

from __future__ import annotations

import jsonschema_rs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egov_contract import load_document, schemas_dir

EMAIL = load_document(schemas_dir() / "account.json")["$defs"]["email"]
STRICT = jsonschema_rs.validator_for({"type": "string", "format": "email"}, validate_formats=True)


@settings(max_examples=2000, suppress_health_check=list(HealthCheck), deadline=None)
@given(st.from_regex(EMAIL["pattern"], fullmatch=True))
def test_every_email_the_pattern_admits_is_an_email_to_jsonschema_rs(address: str) -> None:
    assert STRICT.is_valid(address), address


def test_the_example_addresses_match_the_pattern() -> None:
    import re

    for example in EMAIL["examples"]:
        assert re.fullmatch(EMAIL["pattern"], example)

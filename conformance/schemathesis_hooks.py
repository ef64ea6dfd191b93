"""Teach schemathesis the contract's Vietnamese formats.

Schemathesis loads this module when ``SCHEMATHESIS_HOOKS=conformance.schemathesis_hooks``. Without
it, a ``format`` it does not know is ignored: it would send ``250230`` (30 February) as a valid
dossier date, and count the target's correct refusal as a failure.
"""

from __future__ import annotations

import schemathesis

from egov_contract.strategies import custom_format_strategies, vietnam_times

for _name, _strategy in custom_format_strategies().items():
    schemathesis.openapi.format(_name, _strategy)

# Every time of the contract is RFC 3339 with +07:00 (common/codes.json#/$defs/dateTime).
# Generated with any offset, nearly all would fail that pattern and be thrown away.
schemathesis.openapi.format("date-time", vietnam_times())

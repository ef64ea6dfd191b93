"""The conformance suites: one module per area of the requirement catalogue."""

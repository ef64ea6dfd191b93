"""``python -m reference_impl`` is ``egov-conformance serve``."""

import sys

from egov_cli import main

if __name__ == "__main__":
    raise SystemExit(main(["serve", *sys.argv[1:]]))

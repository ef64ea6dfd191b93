"""``python -m egov_cli`` is ``egov-conformance``."""

import sys

from egov_cli import main

sys.exit(main())

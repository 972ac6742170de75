"""``python -m attnhw``: the same command line as ``attnhw``."""

import sys

from attnhw.cli import main

sys.exit(main())

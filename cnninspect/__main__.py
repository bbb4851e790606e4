"""``python -m cnninspect`` is the command line."""

import sys

from cnninspect.integrations.cli import main

sys.exit(main())

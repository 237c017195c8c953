"""``python -m pixl.cli ...``: the same as the ``pixl`` command."""

import sys

from pixl.cli import main

sys.exit(main())

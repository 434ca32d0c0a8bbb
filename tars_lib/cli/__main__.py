"""``python -m tars_lib.cli``: the same as the ``tars`` command."""

import sys

from tars_lib.cli import main

sys.exit(main())

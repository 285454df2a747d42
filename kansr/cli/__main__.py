"""``python -m kansr.cli``: the same as ``kansr`` and ``python -m kansr``."""

import sys

from kansr.cli import main

sys.exit(main())

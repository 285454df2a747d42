"""``python -m kansr``: the command line interface of :mod:`kansr.cli`."""

import sys

from kansr.cli import main

if __name__ == "__main__":
    sys.exit(main())

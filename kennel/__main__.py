"""python -m kennel: the command line (kennel/cli.py)."""

import sys

from kennel.cli import main

if __name__ == "__main__":
    sys.exit(main())

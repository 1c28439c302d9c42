"""``python -m craftlab ...`` is ``python train.py ...`` (see craftlab.commands.cli)."""

import sys

from craftlab.commands.cli import main

if __name__ == "__main__":
    sys.exit(main())

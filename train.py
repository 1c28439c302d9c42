#!/usr/bin/env python3
"""craftlab's command line: ``python train.py CONFIG`` trains; ``python train.py --help`` for more."""

import sys

from craftlab.commands.cli import main

if __name__ == "__main__":
    sys.exit(main())

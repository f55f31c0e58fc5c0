"""`python -m induction ...`: see induction/cli.py."""

import sys

from .cli import main

sys.exit(main())

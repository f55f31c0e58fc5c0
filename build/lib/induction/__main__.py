"""`python -m induction ...`: see induction/cli/parser.py."""

import sys

from induction.cli.parser import main

sys.exit(main())

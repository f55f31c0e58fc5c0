"""The command line: `induction ...` (or `python -m induction ...`): `parser` builds the options, `commands`
runs them."""

from induction.cli.parser import main

__all__ = ["main"]

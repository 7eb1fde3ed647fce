"""Entry points: wren, wren run, and the subcommands."""

__version__ = "0.1.0"

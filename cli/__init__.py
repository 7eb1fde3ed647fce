"""Entry points: wren, wren run, and the subcommands."""

from wren.core import __version__  # noqa: F401 - the version `wren --version` prints

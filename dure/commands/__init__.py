"""Subcommands of the ``dure`` command line, one module each.

Each module defines ``NAME`` (the subcommand), ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int`` (the exit status). Register a new module in :data:`dure.cli.COMMANDS`.
"""

"""Subcommands of the ``tinycnn`` command line, one module each (see ``tinycnn.cli``)."""

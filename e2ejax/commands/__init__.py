"""Subcommands of the ``e2ejax`` CLI, each ``add_arguments(parser)`` + ``run(args) -> int``."""

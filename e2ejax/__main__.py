"""``python -m e2ejax`` runs the command-line interface."""

from e2ejax.cli import main

raise SystemExit(main())

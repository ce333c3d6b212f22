"""``python -m neumelt`` runs the CLI."""

from neumelt.app.cli import main

raise SystemExit(main())

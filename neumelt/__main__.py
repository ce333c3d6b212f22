"""``python -m neumelt`` runs the CLI."""

from neumelt.cli import main

raise SystemExit(main())

"""`python -m backups ...`: see backups/__init__.py."""

from backups.cli import main

raise SystemExit(main())

"""`python -m tenants ...`: see tenants/__init__.py."""

from tenants.cli import main

raise SystemExit(main())

"""Allow ``python -m tinycnn``, the same as the ``tinycnn`` command."""

from tinycnn.cli import main

raise SystemExit(main())

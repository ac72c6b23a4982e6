"""``python -m redis_session_sets``: the command line."""

from ._cli import main

raise SystemExit(main())

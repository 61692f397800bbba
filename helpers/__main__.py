"""``python -m helpers``: the command line (:mod:`helpers.cli`)."""

from .cli import main

raise SystemExit(main())

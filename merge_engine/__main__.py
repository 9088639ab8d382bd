"""``python -m merge_engine``: the same command line as ``merge-engine``."""

from .cli import main

raise SystemExit(main())

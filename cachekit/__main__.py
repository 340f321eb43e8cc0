"""``python -m cachekit``: the ``cachekit`` command."""

import sys

from cachekit.cli.main import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m lexauthz.cli``."""
import sys

from . import main

if __name__ == "__main__":  # not in spawned worker processes (see lexauthz/__main__.py)
    sys.exit(main())

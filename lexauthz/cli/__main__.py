"""``python -m lexauthz.cli``."""
import sys

from . import main

sys.exit(main())

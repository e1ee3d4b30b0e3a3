"""``python -m lexauthz``."""
import sys

from .cli import main

# the guard matters: worker processes of a local Dask cluster (`--workers N`) are spawned, and a spawned process
# imports the parent's main module under another name
if __name__ == "__main__":
    sys.exit(main())

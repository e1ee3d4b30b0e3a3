"""The Dask tests reuse the synthetic CloudTrail of the replay tests."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "replay"))

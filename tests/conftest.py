"""Test-wide configuration: hypothesis profiles, and a clear stop when the compiled modules are missing.

Profiles are chosen by LEXAUTHZ_HYPOTHESIS_PROFILE; without it, `ci` when CI=true, else `dev`:

- dev: 50 examples per property, for quick local runs;
- ci: 500 examples per property;
- debug: dev with every example printed.

No profile has a deadline: the house rule is no timed tests, and a per-example deadline is a timing assertion
that fails on a busy machine.
"""

import importlib.util
import os

import pytest
from hypothesis import Verbosity, settings

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=500, deadline=None, print_blob=True)
settings.register_profile("debug", max_examples=50, deadline=None, verbosity=Verbosity.verbose)

_default_profile = "ci" if os.environ.get("CI", "").lower() in ("true", "1") else "dev"
settings.load_profile(os.environ.get("LEXAUTHZ_HYPOTHESIS_PROFILE", _default_profile))


def pytest_sessionstart(session):
    """Stop with a usable message when `lexauthz` is a source tree without its compiled modules."""
    if importlib.util.find_spec("lexauthz._engine") is None:
        import lexauthz

        raise pytest.UsageError(
            f"lexauthz was imported from {os.path.dirname(lexauthz.__file__)}, which has no compiled modules: "
            "build them in place with `pip install -e .`, or test an installed copy with `python -P -m pytest` "
            "so that the current directory does not shadow it"
        )

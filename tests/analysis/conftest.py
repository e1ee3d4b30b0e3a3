"""Fixtures of the analysis tests: the bundled example account, the GAAD fixtures, and the policy-set strategies of
the property tests (tests/property/strategies.py)."""
from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "property"))


@pytest.fixture(scope="session")
def example_account():
    from lexauthz.account import load_account

    import lexauthz

    return load_account(os.path.join(os.path.dirname(lexauthz.__file__), "examples"))


@pytest.fixture(scope="session")
def fixtures_dir():
    return FIXTURES

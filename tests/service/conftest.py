"""Fixtures of the decision-service tests (the shared helpers are in ``service_support.py``)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def authzen_server():
    """The certification scenario's account, served with search, gRPC and an admin token."""
    from service_support import AUTHZEN_ACCOUNT, Server

    s = Server(["--account", AUTHZEN_ACCOUNT, "--grpc-port", "0"])
    yield s
    s.stop()


@pytest.fixture(scope="session")
def http(authzen_server):
    with authzen_server.client() as c:
        yield c

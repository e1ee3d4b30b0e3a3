"""The backend contract of the bulk analyses: the one-process backend, and a result stream that comes up short."""
import numpy as np
import pytest

from lexauthz.account import Account, PolicySet
from lexauthz.analysis import LocalBackend, matrix, resolve_space
from lexauthz.analysis.cluster import Backend, Run


def _account():
    ps = PolicySet()
    ps.add_principal("arn:aws:iam::111122223333:user/bob", policies=[{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lex:*", "Resource": "*"}]}])
    ps.add_resource("arn:aws:lex:us-east-1:111122223333:bot/BOT1000001")
    return Account.from_policy_set(ps)


class _DropsLast(Backend):
    """Runs tasks here but loses the last result, as a broken cluster might."""

    class _Run(Run):
        def __init__(self, engines, data):
            self.inner = LocalBackend().run(engines, data)

        def map(self, fn, tasks):
            tasks = list(tasks)
            yield from self.inner.map(fn, tasks[:-1])

    def run(self, engines, data=None):
        return self._Run(engines, data)


def test_the_local_backend_is_the_default():
    acct = _account()
    space = resolve_space({"contexts": [{}]}, [acct])
    assert np.array_equal(matrix(acct, space).codes, matrix(acct, space, backend=LocalBackend()).codes)


def test_a_short_result_stream_is_an_error_never_a_partial_matrix():
    acct = _account()
    space = resolve_space({"contexts": [{}]}, [acct])
    with pytest.raises(ValueError):
        matrix(acct, space, compress=False, backend=_DropsLast())


def test_a_backend_must_be_a_backend():
    acct = _account()
    with pytest.raises(TypeError):
        matrix(acct, resolve_space({"contexts": [{}]}, [acct]), backend="dask")

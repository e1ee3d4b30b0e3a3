"""Index rows against brute force: rows built at compile time with pyroaring (seen strings) equal the rows the
brute-force twin computes on demand, and both equal a direct check of every statement with the reference's
matchers."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "property"))

from strategies import ACTIONS, RESOURCES, bundles  # noqa: E402

from lexauthz._engine import bits_to_ids  # noqa: E402
from lexauthz.engine import compile_applicable  # noqa: E402
from lexauthz.reference.matching import statement_matches_action, statement_matches_resource  # noqa: E402
from lexauthz.request import Context  # noqa: E402


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(bundles(), st.lists(st.sampled_from(ACTIONS) | st.text(min_size=1, max_size=12), max_size=8),
       st.lists(st.sampled_from(RESOURCES), max_size=8))
def test_action_and_resource_rows_equal_brute_force(bundle, actions, resources):
    indexed = compile_applicable(bundle)._core
    twin = compile_applicable(bundle, use_index=False)._core
    plan = indexed.plan
    for a in actions:
        row = indexed.action_row(a)
        assert np.array_equal(row, twin.action_row(a))
        want = [i.id for i in plan.statements if statement_matches_action(i.statement, a)]
        assert bits_to_ids(row) == want
    for r in resources:
        row = indexed.resource_row(r)
        assert np.array_equal(row, twin.resource_row(r))
        # Statements whose Resource holds variables are always candidates (decided per request).
        want = [i.id for i in plan.statements
                if i.dynamic_resource or statement_matches_resource(i.statement, r, Context(),
                                                                    variables_enabled=i.variables_enabled)]
        assert bits_to_ids(row) == want


def test_statement_records_are_not_tracked_by_the_cyclic_collector():
    # one record per statement lives as long as the engine: untracked, they cost a full collection nothing
    import gc
    import pickle

    from lexauthz.compile.plan import StatementInfo
    from lexauthz.engine import Engine
    from lexauthz.policy.applicable import ApplicablePolicies, NamedPolicy
    from lexauthz.policy.parser import parse_policy

    doc = parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lex:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "lex:Delete*", "Resource": "arn:aws:lex:*:*:bot/${aws:username}",
         "Condition": {"StringEquals": {"aws:ResourceTag/stage": "prod"}}}]})
    engine = compile_applicable(ApplicablePolicies(identity=(NamedPolicy("p", doc.document),)))
    for plan in (engine._core.plan, Engine.from_bytes(engine.to_bytes())._core.plan):
        infos = [plan.statements[s] for s in range(plan.n_stmts)]
        assert len(infos) == 2 and all(type(i) is StatementInfo for i in infos)
        assert not any(gc.is_tracked(i) for i in infos)
        # still plain records: equal by value, hashable, picklable
        assert infos[1].dynamic_resource and not infos[0].dynamic_resource
        assert pickle.loads(pickle.dumps(infos[1])) == infos[1] and hash(infos[1]) == hash(infos[1])
        assert infos[0] != infos[1]

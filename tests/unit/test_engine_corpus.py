"""The labelled corpus through both implementations: the compiled engine answers every case exactly as the
reference evaluator does (the whole Response), so it scores exactly what the reference scores.

Reads the frozen corpus copy in ``tests/conformance/data`` (inside ``tests/``).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from lexauthz.testing.cases import build_case, iter_cases
from lexauthz.engine import evaluate_applicable
from lexauthz.errors import RequestError
from lexauthz.reference import evaluate as reference_evaluate

DATA = Path(__file__).resolve().parent.parent / "conformance" / "data"


@pytest.mark.parametrize("part", ["1", "2"])
def test_compiled_engine_answers_every_corpus_case_as_the_reference(part):
    path = DATA / f"cases-{part}.jsonl.gz"
    failures = []
    n = 0
    for case in iter_cases(path):
        try:
            request, policies = build_case(case)
        except RequestError:
            continue
        n += 1
        want = reference_evaluate(request, policies)
        got = evaluate_applicable(request, policies)
        if got != want:
            failures.append(f"{case['id']}: reference={want} compiled={got}")
    assert n >= 3900
    assert not failures, f"{len(failures)} cases differ:\n" + "\n".join(failures[:5])

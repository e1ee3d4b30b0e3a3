"""Conformance: every implementation against the 8,000 labelled corpus cases.

For every case, the decision, whether it is an error, the set of matched statements (every field) and the verdict
per policy type must equal the label, except where ``known_differences.toml`` lists the case (by feature tag or by
id) because AWS's documentation and the labelling simulator disagree.  A listed case must then reproduce the label
once rewritten by the entry's emulation (``simulator_quirks.py``): the difference is exactly the listed rule.  A case
listed by id that no longer differs, or a tag entry that no longer explains any difference, fails: the file must not
go stale.

The corpus files are copied from the project's shared corpus into ``data/`` (see ``data/README.md``); nothing outside
``tests/`` is read.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling helpers, whatever pytest's import mode

from labelled_corpus import (  # noqa: E402
    EMULATIONS,
    PARTS,
    Outcome,
    all_pairs,
    answers,
    emulated_outcomes,
    entries_for,
    evaluate,
    known_differences,
    load_part,
)

from lexauthz.testing.cases import ENGINES  # noqa: E402

IMPLEMENTATIONS = ENGINES  # one switch: every implementation run_case can drive
_SHOW = 10  # failures listed in an assertion message


@pytest.fixture(params=IMPLEMENTATIONS)
def implementation(request) -> str:
    return request.param


def _report(failures: list[str], what: str) -> str:
    more = f"\n... and {len(failures) - _SHOW} more" if len(failures) > _SHOW else ""
    return f"{len(failures)} {what}:\n" + "\n".join(failures[:_SHOW]) + more


@pytest.mark.parametrize("part", PARTS)
def test_unlisted_cases_agree_with_their_labels(implementation, part):
    failures = []
    for (case, label), line in zip(load_part(part), answers(implementation, part)):
        if entries_for(case):
            continue
        diff = Outcome.of(line).differences(Outcome.of(label))
        if diff:
            failures.append(f"{case['id']} ({case['meta']['profile']}): {'; '.join(diff)}")
    assert not failures, _report(failures, "cases disagree with their labels and are not in known_differences.toml")


@pytest.mark.parametrize("part", PARTS)
def test_listed_cases_reproduce_their_labels_once_rewritten(implementation, part):
    failures = []
    for case, label in load_part(part):
        entries = entries_for(case)
        if not entries:
            continue
        got, want = emulated_outcomes(case, label, implementation)
        diff = got.differences(want)
        if diff:
            names = ", ".join(name for name, _ in entries)
            failures.append(f"{case['id']} [{names}]: {'; '.join(diff)}")
    assert not failures, _report(failures, "listed cases differ from their labels by more than the listed rule")


def test_cases_listed_by_id_still_differ(implementation):
    answered = {case["id"]: line for part in PARTS
                for (case, _), line in zip(load_part(part), answers(implementation, part))}
    labels = {case["id"]: label for case, label in all_pairs()}
    stale = []
    for case_id in known_differences()["cases"]:
        assert case_id in labels, f"known_differences.toml lists `{case_id}`, which is not a corpus case"
        if Outcome.of(answered[case_id]) == Outcome.of(labels[case_id]):
            stale.append(case_id)
    assert not stale, f"listed cases that no longer differ from their labels (remove them): {stale}"


def test_every_tag_entry_still_explains_a_difference(implementation):
    differing: dict[str, int] = {tag: 0 for tag in known_differences()["tags"]}
    for part in PARTS:
        for (case, label), line in zip(load_part(part), answers(implementation, part)):
            if Outcome.of(line) != Outcome.of(label):
                for tag in case["meta"]["features"]:
                    if tag in differing:
                        differing[tag] += 1
    stale = [tag for tag, n in differing.items() if n == 0]
    assert not stale, f"tag entries that explain no difference any more (remove them): {stale}"


def test_known_differences_entries_are_complete():
    features = {t for case, _ in all_pairs() for t in case["meta"]["features"]}
    kd = known_differences()
    for kind, entries in kd.items():
        for key, entry in entries.items():
            where = f"[{kind}.{key}]"
            assert entry.get("reason"), f"{where} has no reason"
            assert str(entry.get("aws_doc", "")).startswith("https://docs.aws.amazon.com/"), f"{where}: aws_doc"
            assert entry.get("emulation") in EMULATIONS, f"{where}: unknown emulation `{entry.get('emulation')}`"
            if kind == "tags":
                assert key in features, f"{where}: no corpus case has this feature tag"


def test_aws_refusals_are_errors(implementation):
    """Entries with ``expect = "error"``: AWS refuses such a policy when it is saved, so the answer is an error.

    For ``adv_operator_case``: a case whose policy spells an operator in another case than IAM's is refused with
    ``E_UNKNOWN_OPERATOR``; a tagged case whose operators happen to be spelled right is not refused for it.
    """
    kd = known_differences()
    refused = {tag for tag, entry in kd["tags"].items() if entry.get("expect") == "error"}
    assert refused == {"adv_operator_case"}, "a new `expect = error` tag needs its check here"
    checked = 0
    for case, _ in all_pairs():
        if "adv_operator_case" not in case["meta"]["features"]:
            continue
        result = evaluate(case, implementation)
        codes = {f.code for f in result.response.errors}
        if _has_miscased_operator(case):
            checked += 1
            assert "E_UNKNOWN_OPERATOR" in codes, f"{case['id']}: a miscased operator must be refused"
        else:
            assert "E_UNKNOWN_OPERATOR" not in codes, f"{case['id']}: operators are spelled right"
    assert checked


def _has_miscased_operator(case: dict) -> bool:
    from lexauthz.policy.operators import parse_operator

    docs = list(case["identity_policies"] or [])
    docs += [case[k] for k in ("resource_policy", "permission_boundary", "session_policy") if case.get(k)]
    docs += [d for level in case.get("scps") or [] for d in level]
    for doc in docs:
        statements = doc.get("Statement")
        for st in statements if isinstance(statements, list) else [statements]:
            if isinstance(st, dict) and isinstance(st.get("Condition"), dict):
                if any(parse_operator(op) is None for op in st["Condition"]):
                    return True
    return False


def test_invalid_policies_are_refused_where_the_label_says(implementation):
    """Every labelled error is an error here too, and the policy and element the label blames are among the
    findings (the label's ``error_detail``: policy type -> policy name -> ``[{path, message}]``)."""
    checked = 0
    for case, label in all_pairs():
        if label.get("error") is None:
            continue
        checked += 1
        result = evaluate(case, implementation)
        assert result.response is not None and result.response.errors, f"{case['id']}: must be refused"
        found = [(f.source, f.path) for f in result.response.errors]
        for _type, by_name in (label.get("error_detail") or {}).items():
            for name, problems in by_name.items():
                for problem in problems:
                    blamed = f"$.{problem['path']}"
                    # A finding at the element, or at the statement that lacks it (a missing `Effect`).
                    assert any(source == name and (blamed == path or blamed.startswith(path + "."))
                               for source, path in found), (
                        f"{case['id']}: the label blames `{name}` at {problem['path']}; found {found}"
                    )
    assert checked

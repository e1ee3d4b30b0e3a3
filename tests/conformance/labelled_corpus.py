"""The labelled corpus and the known-differences file, as the conformance tests use them.

Reads only files inside ``tests/conformance`` (``data/`` and ``known_differences.toml``).  Run this file to print the
agreement figures per profile::

    PYTHONPATH=. python tests/conformance/labelled_corpus.py
"""
from __future__ import annotations

import functools
import re
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the sibling helper, whatever pytest's import mode
    sys.path.insert(0, str(HERE))

from lexauthz.testing.cases import evaluate_case, iter_cases, run_case  # noqa: E402
from simulator_quirks import EMULATIONS, RENAMING_EMULATIONS, emulate  # noqa: E402

DATA = HERE / "data"
PARTS = ("1", "2")
KNOWN_DIFFERENCES = HERE / "known_differences.toml"
_LEVEL = re.compile(r"^scp-level\[(\d+)\]$")


@functools.lru_cache(maxsize=None)
def load_part(part: str) -> tuple[tuple[dict, dict], ...]:
    """``(case, label)`` pairs of one corpus file, in file order."""
    cases = list(iter_cases(DATA / f"cases-{part}.jsonl.gz"))
    labels = list(iter_cases(DATA / f"labels-{part}.jsonl.gz"))
    if [c["id"] for c in cases] != [lab["id"] for lab in labels]:
        raise AssertionError(f"cases-{part} and labels-{part} are not in the same order")
    return tuple(zip(cases, labels))


def all_pairs() -> list[tuple[dict, dict]]:
    """Every ``(case, label)`` pair of the corpus."""
    return [pair for part in PARTS for pair in load_part(part)]


@functools.lru_cache(maxsize=None)
def known_differences() -> dict:
    """``{"tags": {tag: entry}, "cases": {id: entry}}`` from ``known_differences.toml``."""
    with open(KNOWN_DIFFERENCES, "rb") as fh:
        data = tomllib.load(fh)
    return {"tags": data.get("tags", {}), "cases": data.get("cases", {})}


def entries_for(case: dict) -> list[tuple[str, dict]]:
    """The known-difference entries that cover a case: ``("tag:NAME" | "case:ID", entry)``, tags first."""
    kd = known_differences()
    out = [(f"tag:{t}", kd["tags"][t]) for t in case["meta"]["features"] if t in kd["tags"]]
    if case["id"] in kd["cases"]:
        out.append((f"case:{case['id']}", kd["cases"][case["id"]]))
    return out


def _statement_key(m: dict, principal_match: bool = True) -> tuple:
    level = m.get("level")
    if isinstance(level, str):
        match = _LEVEL.match(level)
        level = int(match.group(1)) if match else level
    return (m["policy_type"], m["policy"], m["statement"], m.get("sid"), m["effect"], level,
            m.get("principal_match") if principal_match else None)


@dataclass(frozen=True)
class Outcome:
    """An answer normalised for comparison: decision, whether it is an error, the set of matched statements (every
    field of each) and the verdict per policy type (``None`` for an error)."""

    decision: str | None
    error: bool
    matched: frozenset
    policy_results: tuple | None

    @classmethod
    def of(cls, line: dict, *, principal_match: bool = True) -> "Outcome":
        """Normalise an answer line or a label; ``principal_match=False`` leaves out how a resource-policy statement
        named the caller (for rewrites that rename a principal on purpose)."""
        results = line.get("policy_results")
        return cls(
            decision=line.get("decision"),
            error=line.get("error") is not None,
            matched=frozenset(_statement_key(m, principal_match) for m in line.get("matched_statements") or ()),
            policy_results=tuple(sorted(results.items())) if results else None,
        )

    def differences(self, other: "Outcome") -> list[str]:
        """What differs, in words (empty when equal)."""
        out = []
        if self.decision != other.decision or self.error != other.error:
            out.append(f"decision {self.decision!r}{' (error)' if self.error else ''} "
                       f"vs {other.decision!r}{' (error)' if other.error else ''}")
        if self.matched != other.matched:
            out.append(f"statements only here {sorted(self.matched - other.matched)}, "
                       f"only there {sorted(other.matched - self.matched)}")
        if self.policy_results != other.policy_results:
            out.append(f"policy results {self.policy_results} vs {other.policy_results}")
        return out


@functools.lru_cache(maxsize=None)
def answers(implementation: str, part: str) -> tuple[dict, ...]:
    """The implementation's answer line for every case of one file (computed once per test session)."""
    return tuple(run_case(case, engine=implementation) for case, _ in load_part(part))


def emulated_answer(case: dict, implementation: str) -> dict:
    """The answer on the case rewritten by the emulations its known-difference entries name."""
    names = [entry["emulation"] for _, entry in entries_for(case)]
    return run_case(emulate(case, names), engine=implementation)


def renames_principals(case: dict) -> bool:
    """Whether a rewrite of this case names a different principal (the principal match label then changes by
    design: the rewrite names the session's role where the policy named the session or everyone)."""
    return any(entry["emulation"] in RENAMING_EMULATIONS for _, entry in entries_for(case))


def emulated_outcomes(case: dict, label: dict, implementation: str) -> tuple[Outcome, Outcome]:
    """``(answer once rewritten, label)``, normalised alike."""
    keep = not renames_principals(case)
    return (Outcome.of(emulated_answer(case, implementation), principal_match=keep),
            Outcome.of(label, principal_match=keep))


def evaluate(case: dict, implementation: str = "reference"):
    """The full :class:`lexauthz.testing.cases.CaseResult` (response with findings)."""
    return evaluate_case(case, engine=implementation)


def agreement_table(implementation: str = "reference") -> list[tuple]:
    """Per profile: ``(profile, cases, agree as given, listed, agree once rewritten)``, plus a total row."""
    rows: dict[str, Counter] = {}
    for part in PARTS:
        for (case, label), line in zip(load_part(part), answers(implementation, part)):
            row = rows.setdefault(case["meta"]["profile"], Counter())
            row["cases"] += 1
            expected = Outcome.of(label)
            if Outcome.of(line) == expected:
                row["agree"] += 1
            if entries_for(case):
                row["listed"] += 1
                got, want = emulated_outcomes(case, label, implementation)
                if got == want:
                    row["agree_rewritten"] += 1
            elif Outcome.of(line) == expected:
                row["agree_rewritten"] += 1
    table = [(p, r["cases"], r["agree"], r["listed"], r["agree_rewritten"]) for p, r in sorted(rows.items())]
    total = tuple(sum(row[i] for row in table) for i in range(1, 5))
    return table + [("total", *total)]


def main() -> None:  # pragma: no cover - reporting helper
    print(f"{'profile':24} {'cases':>6} {'agree':>6} {'%':>7} {'listed':>7} {'agree*':>7}")
    for profile, n, agree, listed, rewritten in agreement_table():
        print(f"{profile:24} {n:6d} {agree:6d} {100 * agree / n:6.2f}% {listed:7d} {rewritten:7d}")
    print("agree*: agreement once each listed case is rewritten by its emulation (simulator_quirks.py)")


__all__ = ["EMULATIONS", "PARTS", "Outcome", "all_pairs", "answers", "agreement_table", "emulated_answer",
           "emulated_outcomes", "entries_for", "evaluate", "known_differences", "load_part"]

if __name__ == "__main__":  # pragma: no cover
    main()

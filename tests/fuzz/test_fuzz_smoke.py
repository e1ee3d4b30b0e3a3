"""The fuzz smoke run (CI): every target of ``fuzz/`` for a bounded number of inputs from a fixed seed, through the
whole oracle (no crash, only coded errors, compiled == reference, never Allow on error), plus the harness's own
machinery: findings are written with their code, replayed with the same code, and the saved-file codec round-trips.

The long run is ``python -m fuzz TARGET`` (atheris) or ``python -m fuzz TARGET --runs N``; see ``fuzz/README.md``.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fuzz.__main__ import SMOKE_RUNS  # noqa: E402
from fuzz.oracle import CODES, FindingError, check_decisions, guarded  # noqa: E402
from fuzz.runner import SIDE, corpus_files, replay, run_loop  # noqa: E402
from fuzz.targets import TARGETS, get_target  # noqa: E402
from fuzz.targets.saved import decode, encode  # noqa: E402
from lexauthz.decision import Decision  # noqa: E402
from lexauthz.engine import Engine  # noqa: E402
from lexauthz.errors import PlanFormatError, RequestError  # noqa: E402

#: Findings the core still has, as ``(target, code): "what is still open"``: the smoke run reports them without
#: failing, and the strict xfail below fails as soon as the fix lands, so that the entry goes with the fix.  Empty
#: today: every finding of the campaigns so far is fixed, and its reproducer is a regression input of the seed corpus
#: (``fuzz/corpus/<target>/regression-*``).
KNOWN_OPEN: dict = {}

# -- the smoke run ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz-crashes")
    return out, {name: run_loop(name, runs, seed=0, budget=None, crashes=out) for name, runs in SMOKE_RUNS.items()}


def _records(crashes: Path, name: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((crashes / name).glob(f"*{SIDE}"))]


@pytest.mark.parametrize("name", list(SMOKE_RUNS))
def test_smoke_run_finds_nothing_new(smoke, name):
    crashes, stats = smoke
    s = stats[name]
    assert s.inputs == SMOKE_RUNS[name]
    assert s.signatures > 1  # the inputs reached more than one outcome: the run exercised the target
    assert s.harness_errors == 0
    new = [r for r in _records(crashes, name) if (name, r["code"]) not in KNOWN_OPEN]
    assert not new, "\n".join(f"{r['code']} at {r['where']}: {r['message']} ({crashes / name / r['input']})"
                              for r in new)


@pytest.mark.parametrize("key", sorted(KNOWN_OPEN), ids=[f"{t}-{c}" for t, c in sorted(KNOWN_OPEN)])
@pytest.mark.xfail(strict=True, reason="a known-open core finding: remove its KNOWN_OPEN entry with the fix")
def test_known_open_findings_are_fixed(smoke, key):
    crashes, _ = smoke
    name, code = key
    assert not [r for r in _records(crashes, name) if r["code"] == code], KNOWN_OPEN[key]


def test_every_target_runs_in_the_smoke_run():
    assert set(SMOKE_RUNS) == set(TARGETS)


# -- the seed corpus ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TARGETS))
def test_seed_corpus_replays_clean(name):
    """The seed corpus and the regression inputs kept with it (``fuzz/corpus/<target>/regression-*``, each with the
    finding it gave before its fix beside it) give no finding."""
    files = corpus_files([ROOT / "fuzz" / "corpus" / name])
    assert files, f"fuzz/corpus/{name} is empty: run `python -m fuzz seed {name}`"
    found = [(p, f) for p, f in replay(name, files, out=io.StringIO()) if (name, f.code) not in KNOWN_OPEN]
    assert not found, "\n".join(f"{p}: {f}" for p, f in found)


def _open_reproducers():
    return [p for p in corpus_files([ROOT / "fuzz" / "open"])]


@pytest.mark.parametrize("path", _open_reproducers(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_open_reproducers_still_give_their_finding(path):
    """``fuzz/open/<target>/`` holds the reproducers of findings not fixed yet: each still gives the code its
    ``.finding.json`` records.  Once one does not, it is fixed: move it to ``fuzz/corpus/<target>/regression-*``."""
    record = json.loads(path.with_name(path.name + SIDE).read_text())
    found = replay(path.parent.name, [path], out=io.StringIO())
    assert [f.code for _, f in found] == [record["code"]], f"{path} no longer gives {record['code']}: fixed?"


def test_builtin_saved_seeds_load_and_answer_as_the_reference():
    target = get_target("saved")
    for _, data in target.seeds():
        sig = target.run(data)
        assert sig[-1][0] == "loaded" and sig[-1][2] is True  # a base engine, checked against its reference


# -- the harness ----------------------------------------------------------------------------------------------------


def test_an_uncoded_exception_is_a_finding_and_a_coded_one_is_an_outcome():
    with pytest.raises(FindingError) as info:
        guarded("here", lambda: [][1])
    assert info.value.finding.code == "F_UNCODED" and info.value.finding.detail["exception"] == "IndexError"
    out = guarded("here", Engine.from_bytes, b"not a plan")
    assert isinstance(out.error, PlanFormatError) and out.code == "E_PLAN_FORMAT"
    out = guarded("here", lambda: (_ for _ in ()).throw(RequestError("E_BAD_ACTION", "bad", "$.action")))
    assert out.code == "E_BAD_ACTION"


@pytest.mark.parametrize("compiled, reference, code", [
    (Decision.ALLOW, Decision.ERROR, "F_ALLOW_ON_ERROR"),
    (Decision.ALLOW, Decision.IMPLICIT_DENY, "F_FAIL_OPEN"),
    (Decision.ALLOW, Decision.EXPLICIT_DENY, "F_FAIL_OPEN"),
    (Decision.IMPLICIT_DENY, Decision.ALLOW, "F_DISAGREE"),
    (Decision.ERROR, Decision.EXPLICIT_DENY, "F_DISAGREE"),
])
def test_decision_findings(compiled, reference, code):
    with pytest.raises(FindingError) as info:
        check_decisions("here", compiled, reference, {})
    assert info.value.finding.code == code
    check_decisions("here", reference, reference, {})  # equal decisions are no finding


def test_saved_codec_round_trips_a_real_engine_file():
    target = get_target("saved")
    _, data = target.seeds()[0]
    parts = decode(data)
    assert parts is not None and parts["meta"]["arrays"]
    again = encode(parts)
    original, copy = Engine.from_bytes(data), Engine.from_bytes(again)
    assert copy.revision != "" and original.n_statements == copy.n_statements
    assert target.run(again)[-1][::2] == ("loaded", True)
    assert isinstance(guarded("here", Engine.from_bytes, encode(parts, checksum=False)).error, PlanFormatError)


def test_a_finding_is_written_with_its_code_and_replays_with_it(tmp_path):
    # A budget of a nanosecond makes every input an F_SLOW finding: the path from a finding to its files and back.
    stats = run_loop("policy", 3, seed=1, budget=1e-9, crashes=tmp_path)
    assert stats.by_code == {"F_SLOW": 3}
    (record,) = _records(tmp_path, "policy")  # one place, written once
    assert record["code"] == "F_SLOW" and record["target"] == "policy"
    path = tmp_path / "policy" / record["input"]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    slow = subprocess.run([sys.executable, "-m", "fuzz", "replay", "policy", str(path), "--budget", "1e-9"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert slow.returncode == 1 and slow.stdout.startswith("F_SLOW policy ")
    clean = subprocess.run([sys.executable, "-m", "fuzz", "replay", "policy", str(path)], cwd=ROOT, env=env,
                           capture_output=True, text=True)
    assert clean.returncode == 0 and clean.stdout.startswith("ok policy ")


def test_finding_codes_are_the_documented_ones():
    readme = (ROOT / "fuzz" / "README.md").read_text()
    for code in CODES:
        assert f"`{code}`" in readme


def test_atheris_runs_a_target_coverage_guided(tmp_path):
    pytest.importorskip("atheris")
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("atheris counts coverage with its own runtime, which a preloaded ASan replaces (sanitize.sh)")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = subprocess.run([sys.executable, "-m", "fuzz", "policy", "-atheris_runs=60", f"-artifact_prefix={tmp_path}/",
                          str(tmp_path / "work"), str(ROOT / "fuzz" / "corpus" / "policy")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Done 60 " in run.stderr and " cov: " in run.stderr  # libFuzzer saw Python coverage of lexauthz
    assert any((tmp_path / "work").iterdir())                    # new inputs go to the first folder given

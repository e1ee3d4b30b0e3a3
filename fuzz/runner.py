"""The pure-Python mutation loop, the replay of saved inputs, and where findings are written.

The loop keeps an in-memory corpus (the seeds, any corpus folders given, and every input whose outcome signature is
new), and each step either generates a fresh input or mutates a corpus entry.  A finding is minimized (same code),
written to ``fuzz/crashes/<target>/<code>-<digest><ext>`` with a ``.finding.json`` beside it (code, where,
message, detail, seed and step), and counted; each distinct (code, place) is written once per run.
"""
from __future__ import annotations

import json
import random
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .oracle import CODES, SEVERITY, Finding, FindingError
from .targets import TARGETS, get_target

__all__ = ["FUZZ_DIR", "Stats", "run_loop", "run_one", "replay", "save_finding", "corpus_files", "write_seeds",
           "SIDE"]

FUZZ_DIR = Path(__file__).resolve().parent
SIDE = ".finding.json"
#: Default per-input time budget in seconds (``F_SLOW`` beyond it); ``None`` switches it off.
DEFAULT_BUDGET = 2.0


@dataclass
class Stats:
    """Counts of one run of one target."""

    target: str
    seed: int | None = None
    inputs: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    by_code: dict = field(default_factory=dict)
    saved: list = field(default_factory=list)
    signatures: int = 0
    corpus: int = 0
    harness_errors: int = 0

    @property
    def findings(self) -> int:
        return sum(self.by_code.values())

    def to_dict(self) -> dict:
        return {"target": self.target, "seed": self.seed, "inputs": self.inputs, "seconds": round(self.seconds, 2),
                "slowest_input_seconds": round(self.slowest, 3), "findings": self.findings,
                "by_code": dict(self.by_code), "saved": [str(p) for p in self.saved], "signatures": self.signatures,
                "corpus": self.corpus, "harness_errors": self.harness_errors}


def run_one(target, data: bytes, budget: float | None = DEFAULT_BUDGET):
    """(signature, finding or None, seconds) of one input."""
    t0 = time.perf_counter()
    finding = None
    sig = None
    try:
        sig = target.run(data)
    except FindingError as exc:
        finding = exc.finding
    except Exception as exc:  # noqa: BLE001 - outside every guarded call: the harness's own failure, not a finding
        sig = ("harness-error", type(exc).__name__)
        _harness_error(target.name, exc)
    dt = time.perf_counter() - t0
    if finding is None and budget is not None and dt > budget:
        finding = Finding("F_SLOW", target.name, f"one input took {dt:.2f} s, over the {budget:g} s budget",
                          {"seconds": round(dt, 3), "budget": budget})
    return sig, finding, dt


_HARNESS_ERRORS: dict = {}


def _harness_error(name: str, exc: BaseException) -> None:
    """Report a failure of the harness itself (a target's own code), the first few times, on stderr."""
    n = _HARNESS_ERRORS[name] = _HARNESS_ERRORS.get(name, 0) + 1
    if n <= 3:
        import traceback

        print(f"fuzz: harness error in target `{name}` (not a finding): "
              f"{''.join(traceback.format_exception_only(type(exc), exc)).strip()}", file=sys.stderr)


def _next_input(target, rng, pool, p_generate: float) -> bytes:
    """A generated or mutated input; a failure of the mutator itself falls back to a corpus entry."""
    try:
        if rng.random() < p_generate:
            return target.generate(rng)
        return target.mutate(rng.choice(pool), rng, pool[-32:])
    except Exception as exc:  # noqa: BLE001 - the harness's own failure
        _harness_error(target.name, exc)
        return rng.choice(pool)


def _place(finding: Finding) -> str:
    """A finding's place without row numbers, so that one bug found at many rows is written once."""
    return re.sub(r"\[\d+\]", "[]", finding.where)


def save_finding(target, data: bytes, finding: Finding, out_dir: Path, **extra) -> Path:
    """Write ``data`` and its finding; returns the input's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{finding.code}-{target.digest(data)}{target.ext}"
    path.write_bytes(data)
    record = {"target": target.name, **finding.to_dict(), "input": path.name, "bytes": len(data), **extra}
    (out_dir / (path.name + SIDE)).write_text(json.dumps(record, indent=1, default=str) + "\n")
    return path


def corpus_files(paths) -> list[Path]:
    """Input files under ``paths`` (files, or folders searched recursively), without finding records."""
    out = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.is_file() and not q.name.endswith(SIDE)
                              and not q.name.startswith(".")))
        elif p.is_file():
            out.append(p)
    return out


def write_seeds(name: str, folder: Path | None = None) -> list[Path]:
    """Write a target's built-in seeds into ``fuzz/corpus/<target>/`` (or ``folder``)."""
    target = get_target(name)
    folder = folder or FUZZ_DIR / "corpus" / name
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for seed_name, data in target.seeds():
        p = folder / f"seed-{seed_name}{target.ext}"
        p.write_bytes(data)
        out.append(p)
    return out


def run_loop(name: str, runs: int, seed: int = 0, *, corpus=(), budget: float | None = DEFAULT_BUDGET,
             crashes: Path | None = None, minimize: bool = True, max_seconds: float | None = None,
             inflight: Path | None = None, log=None, p_generate: float = 0.25, progress=None,
             skip=()) -> Stats:
    """Run ``runs`` inputs of target ``name`` from seed ``seed``; findings go to ``crashes/<name>/``.

    ``inflight``, when given, holds the input being run (so that a crash of the process leaves it behind);
    ``skip`` names inputs (by :meth:`Target.digest`) never to run again, such as one that crashed an earlier run.
    """
    target = get_target(name)
    rng = random.Random(seed)
    stats = Stats(name, seed)
    # The corpus given first (each of its inputs is run once before any mutation), then the built-in seeds.
    pool = [p.read_bytes() for p in corpus_files(corpus)] + [d for _, d in target.seeds()]
    skip = set(skip)
    pool = [d for d in pool if target.digest(d) not in skip] or [d for _, d in target.seeds()]
    first = len(pool)
    sigs: set = set()
    placed: set = set()
    out_dir = (crashes or FUZZ_DIR / "crashes") / name
    t_start = time.perf_counter()
    for step in range(runs):
        if max_seconds is not None and time.perf_counter() - t_start > max_seconds:
            break
        if step < first:
            data = pool[step]
        else:
            data = _next_input(target, rng, pool, p_generate)
            if skip and target.digest(data) in skip:
                continue
        if progress is not None and step % 25 == 0:
            progress(step)
        if inflight is not None:
            inflight.write_bytes(data)
        sig, finding, dt = run_one(target, data, budget)
        if inflight is not None:
            inflight.unlink()
        stats.inputs += 1
        stats.slowest = max(stats.slowest, dt)
        if finding is None:
            key = (type(sig).__name__, repr(sig)[:400])
            if key not in sigs:
                sigs.add(key)
                pool.append(data)
            continue
        stats.by_code[finding.code] = stats.by_code.get(finding.code, 0) + 1
        place = (finding.code, _place(finding))
        if place in placed:
            continue
        placed.add(place)
        small = data
        if minimize and finding.code != "F_SLOW":
            def still_fails(cand, code=finding.code):
                if inflight is not None:  # a candidate that hangs or crashes is caught as any input is
                    inflight.write_bytes(cand)
                found = run_one(target, cand, budget)[1]
                if inflight is not None:
                    inflight.unlink()
                return found is not None and found.code == code
            small = target.minimize(data, still_fails)
            again = run_one(target, small, budget)[1]
            finding = again if again is not None and again.code == finding.code else finding
            if again is None or again.code != finding.code:
                small = data
        path = save_finding(target, small, finding, out_dir, seed=seed, step=step, original_bytes=len(data))
        stats.saved.append(path)
        if log is not None:
            print(f"{finding.code} {name} {path}: {finding.message}", file=log, flush=True)
    stats.seconds = time.perf_counter() - t_start
    stats.harness_errors = _HARNESS_ERRORS.get(name, 0)
    stats.signatures = len(sigs)
    stats.corpus = len(pool)
    return stats


def replay(name: str, paths, budget: float | None = None, out=sys.stdout) -> list[tuple[Path, Finding]]:
    """Run saved inputs through the oracle; print one line per input (``ok`` or the finding) and return the
    findings."""
    target = get_target(name)
    found = []
    files = corpus_files(paths)
    if not files:
        print(f"no inputs under {', '.join(map(str, paths))}", file=out)
    for p in files:
        _, finding, dt = run_one(target, p.read_bytes(), budget)
        if finding is None:
            print(f"ok {name} {p} ({dt * 1000:.0f} ms)", file=out)
        else:
            print(f"{finding.code} {name} {p}: {finding}", file=out)
            found.append((p, finding))
    return found


def _check_codes():
    assert set(SEVERITY) == set(CODES)
    assert set(TARGETS)


_check_codes()

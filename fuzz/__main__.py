"""``python -m fuzz``: run a target, replay saved inputs, write the seed corpus, or run the smoke run.

    python -m fuzz TARGET [-atheris_runs=N] [libFuzzer flags] [CORPUS_DIR ...]   coverage-guided (atheris)
    python -m fuzz TARGET --runs N [--seed S] [--budget SEC] [CORPUS_DIR ...]   the pure-Python mutation loop
    python -m fuzz replay TARGET FILE|DIR ...                                 saved inputs through the oracle
    python -m fuzz smoke [--runs N] [--seed S]                                every target, bounded (what CI runs)
    python -m fuzz seed [TARGET ...]                                          write fuzz/corpus/<target>/seed-*
    python -m fuzz list                                                       targets and finding codes

Exit status: 0 when nothing was found, 1 when an input gave a finding, 2 on a usage error.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

_FUZZ_DIR = Path(__file__).resolve().parent
_CHILD = "LEXAUTHZ_FUZZ_CHILD"

#: Inputs per target in the smoke run (CI): about 20 s of CPU in total.
SMOKE_RUNS = {"policy": 250, "policy_set": 120, "request": 120, "batch": 100, "saved": 250, "account": 80}


def _targets():
    from .targets import TARGETS

    return list(TARGETS)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    cmd = argv[0]
    if cmd == "list":
        from .oracle import CODES

        print("targets:", " ".join(_targets()))
        for code, what in CODES.items():
            print(f"{code:18} {what}")
        return 0
    if cmd == "seed":
        from .runner import write_seeds

        for name in argv[1:] or _targets():
            for p in write_seeds(name):
                print(p)
        return 0
    if cmd == "replay":
        return _replay(argv[1:])
    if cmd == "smoke":
        return _smoke(argv[1:])
    if cmd not in _targets():
        print(f"fuzz: unknown target or command `{cmd}`: use one of {', '.join(_targets())}, replay, smoke, seed, "
              "list", file=sys.stderr)
        return 2
    rest = argv[1:]
    if "--runs" in rest or any(a.startswith("--runs=") for a in rest) or os.environ.get(_CHILD):
        return _loop(cmd, rest)
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("fuzz: atheris is not installed (pip install -e '.[fuzz]'); running the mutation loop instead",
              file=sys.stderr)
        return _loop(cmd, ["--runs", "100000"] + rest)
    return _atheris(cmd, rest)


# -- replay -------------------------------------------------------------------------------------------------------


def _replay(args) -> int:
    p = argparse.ArgumentParser(prog="python -m fuzz replay")
    p.add_argument("target", choices=_targets())
    p.add_argument("paths", nargs="+")
    p.add_argument("--budget", type=float, default=None, help="per-input time budget in seconds (F_SLOW)")
    ns = p.parse_args(args)
    from .runner import replay

    found = replay(ns.target, ns.paths, ns.budget)
    return 1 if found else 0


# -- the mutation loop, in a child process (so that a crash leaves its input behind) -------------------------------


def _loop_parser(prog):
    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("corpus", nargs="*", help="folders or files of inputs to start from")
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget", type=float, default=2.0, help="per-input time budget in seconds; 0 switches it off")
    p.add_argument("--hang", type=float, default=60.0,
                   help="seconds after which one input counts as hung: the child is killed and the input saved as "
                        "F_SLOW")
    p.add_argument("--max-seconds", type=float, default=None)
    p.add_argument("--crashes", default=str(_FUZZ_DIR / "crashes"))
    p.add_argument("--no-minimize", action="store_true")
    p.add_argument("--stats", default=None, help="write the run's counts as JSON to this file")
    p.add_argument("--in-process", action="store_true", help="no child process (a crash then ends the run)")
    p.add_argument("--skip", action="append", default=[], help=argparse.SUPPRESS)  # digests the parent saw crash
    return p


def _loop(name, args) -> int:
    ns = _loop_parser(f"python -m fuzz {name}").parse_args(args)
    if os.environ.get(_CHILD) or ns.in_process:
        return _loop_child(name, ns)
    crashes = Path(ns.crashes) / name
    crashes.mkdir(parents=True, exist_ok=True)
    totals = None
    seed, left, t0, restarts = ns.seed, ns.runs, time.time(), 0
    skip = list(ns.skip)
    while left > 0:
        stats_file = crashes / f".stats-{os.getpid()}-{seed}.json"
        inflight = crashes / f".inflight-{os.getpid()}-{seed}"
        child_args = [sys.executable, "-m", "fuzz", name, *ns.corpus, "--runs", str(left), "--seed", str(seed),
                      "--budget", str(ns.budget), "--crashes", ns.crashes, "--stats", str(stats_file),
                      "--hang", str(ns.hang)] + [f"--skip={d}" for d in skip]
        if ns.max_seconds is not None:
            child_args += ["--max-seconds", str(max(1.0, ns.max_seconds - (time.time() - t0)))]
        if ns.no_minimize:
            child_args.append("--no-minimize")
        env = dict(os.environ, **{_CHILD: str(inflight)})
        proc, hung = _watch(child_args, env, inflight, ns.hang, crashes / f".stderr-{os.getpid()}-{seed}")
        sys.stderr.write(proc.stderr[-20000:])
        stats = json.loads(stats_file.read_text()) if stats_file.exists() else None
        stats_file.unlink(missing_ok=True)
        if stats is not None:
            totals = stats if totals is None else _add(totals, stats)
            left = 0
        else:
            crashed = inflight.read_bytes() if inflight.exists() else None
            inflight.unlink(missing_ok=True)
            done = _count_done(proc.stderr)
            if crashed is None:
                print(f"fuzz: the run of `{name}` failed (status {proc.returncode}) outside any input",
                      file=sys.stderr)
                return 2
            code = _save_crash(name, crashed, proc, crashes, ns.hang if hung else None)
            from .targets import get_target

            skip.append(get_target(name).digest(crashed))
            totals = _add(totals or {"target": name, "inputs": 0, "findings": 0, "by_code": {}, "saved": []},
                          {"inputs": done + 1, "findings": 1, "by_code": {code: 1}, "saved": []})
            left -= done + 1
            seed += 1000003
            restarts += 1
            if restarts > 20:
                break
        if ns.max_seconds is not None and time.time() - t0 > ns.max_seconds:
            break
    totals["seconds"] = round(time.time() - t0, 2)
    print(json.dumps(totals, indent=1))
    return 1 if totals.get("findings") else 0


class _Finished:
    """What a watched child left: its return code and stderr."""

    def __init__(self, returncode: int, stderr: str):
        self.returncode, self.stderr = returncode, stderr


def _watch(args, env, inflight: Path, hang: float, err_path: Path):
    """Run the child, killing it when one input has run for ``hang`` seconds; ``(finished, hung)``."""
    hung = False
    with open(err_path, "w") as err:
        proc = subprocess.Popen(args, env=env, cwd=str(_FUZZ_DIR.parent), stderr=err)
        while proc.poll() is None:
            time.sleep(0.5)
            try:
                started = inflight.stat().st_mtime
            except FileNotFoundError:
                continue
            if hang and time.time() - started > hang:
                hung = True
                proc.kill()
                proc.wait()
    text = err_path.read_text(errors="replace")
    err_path.unlink(missing_ok=True)
    return _Finished(proc.returncode, text), hung


def _count_done(stderr: str) -> int:
    done = 0
    for line in stderr.splitlines():
        if line.startswith("#progress "):
            done = int(line.split()[1])
    return done


def _add(a: dict, b: dict) -> dict:
    out = dict(a)
    for k in ("inputs", "findings"):
        out[k] = a.get(k, 0) + b.get(k, 0)
    out["by_code"] = dict(a.get("by_code", {}))
    for k, v in b.get("by_code", {}).items():
        out["by_code"][k] = out["by_code"].get(k, 0) + v
    out["saved"] = list(a.get("saved", [])) + list(b.get("saved", []))
    return out


def _save_crash(name, data, proc, crashes: Path, hang: float | None = None) -> str:
    """Save the input a dead (or hung, then killed) child left behind; returns the finding code."""
    from .oracle import Finding
    from .runner import save_finding
    from .targets import get_target

    if hang is not None:
        finding = Finding("F_SLOW", name, f"one input ran for more than {hang:g} s: the run was stopped",
                          {"hang_seconds": hang})
        path = save_finding(get_target(name), data, finding, crashes)
        print(f"F_SLOW {name} {path}: {finding.message}", file=sys.stderr)
        return "F_SLOW"
    rc = proc.returncode
    how = f"signal {signal.Signals(-rc).name}" if rc < 0 else f"exit status {rc}"
    tail = proc.stderr[-6000:]
    sanitizer = "AddressSanitizer" in tail or "runtime error:" in tail or "UndefinedBehaviorSanitizer" in tail
    finding = Finding("F_CRASH", name, f"the process died ({how}){' with a sanitizer report' if sanitizer else ''}",
                      {"returncode": rc, "stderr_tail": tail})
    path = save_finding(get_target(name), data, finding, crashes)
    print(f"F_CRASH {name} {path}: {finding.message}", file=sys.stderr)
    return "F_CRASH"


def _loop_child(name, ns) -> int:
    from .runner import run_loop

    inflight = os.environ.get(_CHILD)
    stats = run_loop(name, ns.runs, ns.seed, corpus=ns.corpus, budget=ns.budget or None, crashes=Path(ns.crashes),
                     minimize=not ns.no_minimize, max_seconds=ns.max_seconds,
                     inflight=Path(inflight) if inflight else None, log=sys.stderr,
                     progress=_progress if inflight else None, skip=ns.skip)
    if inflight:
        Path(inflight).unlink(missing_ok=True)
    data = stats.to_dict()
    if ns.stats:
        Path(ns.stats).write_text(json.dumps(data))
    else:
        print(json.dumps(data, indent=1))
    return 1 if stats.findings else 0


def _progress(step: int) -> None:
    print(f"#progress {step}", file=sys.stderr, flush=True)


# -- smoke --------------------------------------------------------------------------------------------------------


def _smoke(args) -> int:
    p = argparse.ArgumentParser(prog="python -m fuzz smoke")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every target's input count")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--crashes", default=str(_FUZZ_DIR / "crashes"))
    ns = p.parse_args(args)
    from .runner import run_loop

    status = 0
    for name, runs in SMOKE_RUNS.items():
        stats = run_loop(name, max(1, int(runs * ns.scale)), ns.seed, budget=None, crashes=Path(ns.crashes),
                         log=sys.stderr)
        d = stats.to_dict()
        print(f"{name:11} {d['inputs']:6} inputs {d['seconds']:7.1f} s  findings {d['findings']} {d['by_code']}")
        status |= 1 if stats.findings else 0
    return status


# -- atheris ------------------------------------------------------------------------------------------------------


def _atheris(name, args) -> int:
    import random

    import atheris

    with atheris.instrument_imports(include=["lexauthz"]):
        import lexauthz.account  # noqa: F401
        import lexauthz.engine  # noqa: F401
        import lexauthz.policy  # noqa: F401
        import lexauthz.reference  # noqa: F401
    from .oracle import FindingError
    from .runner import run_one, save_finding, write_seeds
    from .targets import get_target

    target = get_target(name)
    flags = [a for a in args if a.startswith("-")]
    dirs = [a for a in args if not a.startswith("-")]
    crashes = _FUZZ_DIR / "crashes" / name
    crashes.mkdir(parents=True, exist_ok=True)
    if not dirs:
        work = _FUZZ_DIR / "work" / name
        work.mkdir(parents=True, exist_ok=True)
        if not any(work.iterdir()):
            write_seeds(name, work)
        dirs = [str(work)]
        if (_FUZZ_DIR / "corpus" / name).is_dir():
            dirs.append(str(_FUZZ_DIR / "corpus" / name))
    elif not Path(dirs[0]).exists():
        Path(dirs[0]).mkdir(parents=True)  # libFuzzer writes new inputs to the first folder
    if not any(f.startswith("-artifact_prefix=") for f in flags):
        flags.append(f"-artifact_prefix={crashes}/")
    if not any(f.startswith("-max_len=") for f in flags):
        flags.append(f"-max_len={1 << 18 if name == 'saved' else 1 << 16}")
    budget = 10.0

    def test_one_input(data: bytes) -> None:
        sig, finding, dt = run_one(target, bytes(data), budget)
        if finding is not None:
            path = save_finding(target, bytes(data), finding, crashes)
            print(f"{finding.code} {name} {path}: {finding.message}", file=sys.stderr, flush=True)
            raise FindingError(finding)

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.6:
            try:
                out = target.mutate(bytes(data), rng)
            except RecursionError:
                out = b""
            if 0 < len(out) <= max_size:
                return out
        return atheris.Mutate(data, max_size)

    atheris.Setup([sys.argv[0], *flags, *dirs], test_one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())

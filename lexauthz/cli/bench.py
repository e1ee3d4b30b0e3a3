"""``lexauthz bench``: time the compiled engine on your own policies and requests.

Compile once, then decide the requests in batches (``Engine.evaluate_batch``, the throughput figure) and one at a
time (``Engine.is_allowed``, the latency figures), and report nanoseconds per query, queries per second and the
p50/p99 latency of single calls.  The same measurement as the benchmark suite's ``batch`` and ``single`` groups,
on your data instead of the generated workload.

Numbers from a shared machine are noisy: compare runs made on the same machine, and prefer the median.

>>> from lexauthz.cli.bench import run_bench
>>> policy = {"Version": "2012-10-17", "Statement": [
...     {"Effect": "Allow", "Action": "lex:Recognize*", "Resource": "*"}]}
>>> result = run_bench([policy], [{"principal": "arn:aws:iam::123456789012:user/bob",
...                                "action": "lex:RecognizeText", "resource": "*"}], rounds=1)
>>> result["decisions"]["allowed"]
1
"""
from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import PolicyParseError, RequestError, Severity
from ._common import EXIT_OK, CliError, UsageError, add_output_flags, check_out, open_out

__all__ = ["run_bench", "load_requests", "register"]



# =================================================================================================================
# Inputs
# =================================================================================================================


def load_requests(source: Any) -> list[dict]:
    """Requests as ``{"principal", "action", "resource", "context"}`` mappings.

    ``source`` is a list of mappings (or :class:`~lexauthz.request.Request` objects), or a path to a JSON array or
    a JSON Lines file of mappings.  ``resource`` defaults to ``"*"`` and ``context`` to ``{}``.

    Raises
    ------
    RequestError
        ``E_BAD_REQUESTS`` when the file is not JSON or a request is not an object with ``principal`` and
        ``action``; ``E_IO`` when the file cannot be read.
    """
    from ..request import Request

    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as exc:
            raise RequestError("E_IO", f"cannot read `{path}`: {exc.strerror or exc}", "$") from None
        try:
            stripped = text.lstrip()
            if stripped.startswith("["):
                items = json.loads(text)
            else:
                items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as exc:
            raise RequestError("E_BAD_REQUESTS", f"`{path}` is not JSON or JSON Lines: {exc}", "$") from None
    else:
        items = list(source)
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Request):
            out.append({"principal": item.principal, "action": item.action, "resource": item.resource,
                        "context": item.context, "resource_account": item.resource_account})
            continue
        if not isinstance(item, Mapping) or "principal" not in item or "action" not in item:
            raise RequestError("E_BAD_REQUESTS", "a request must be an object with `principal` and `action`",
                               f"$[{i}]")
        out.append({"principal": item["principal"], "action": item["action"],
                    "resource": item.get("resource", "*"), "context": item.get("context") or {},
                    "resource_account": item.get("resource_account")})
    if not out:
        raise RequestError("E_BAD_REQUESTS", "no requests to time", "$")
    return out


def _policy_set(policy_set_or_files: Any, principals: Sequence[str]):
    """A :class:`PolicySet` as given, or one that gives every requesting principal the listed identity policies."""
    from ..account import PolicySet

    if isinstance(policy_set_or_files, PolicySet):
        return policy_set_or_files
    if isinstance(policy_set_or_files, (str, bytes, os.PathLike, Mapping)):
        policy_set_or_files = [policy_set_or_files]
    from ..policy.applicable import NamedPolicy
    from ..policy.parser import parse_policy

    import pathlib

    named = []
    for i, src in enumerate(policy_set_or_files):
        if isinstance(src, str) and not src.lstrip().startswith("{"):
            src = pathlib.Path(src)  # a file name, not JSON text
        name = os.fspath(src) if isinstance(src, os.PathLike) else f"policy[{i}]"
        parsed = parse_policy(src, source_name=name)
        errors = [f for f in parsed.findings if f.severity is Severity.ERROR]
        if parsed.document is None or errors:
            raise PolicyParseError(errors or list(parsed.findings), name)
        named.append(NamedPolicy(name, parsed.document, tuple(parsed.findings)))
    ps = PolicySet()
    for p in dict.fromkeys(principals):
        ps.add_principal(p, named)
    return ps


# =================================================================================================================
# Measurement
# =================================================================================================================


def _percentile(sorted_values: Sequence[int], q: float) -> int:
    """The nearest-rank percentile ``q`` (0..100) of sorted values."""
    if not sorted_values:
        return 0
    k = max(0, min(len(sorted_values) - 1, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return int(sorted_values[k])


def run_bench(policy_set_or_files: Any, requests: Any, *, rounds: int = 5, single_calls: int | None = None,
              verify: int = 0) -> dict:
    """Compile, then time batch and single-call evaluation of ``requests``.

    Parameters
    ----------
    policy_set_or_files:
        A :class:`~lexauthz.engine.PolicySet`, or identity policies (paths, JSON text or data) that every principal
        named in ``requests`` is given; a policy with an error finding is refused (:class:`PolicyParseError`),
        since timing requests that all end in ``Decision.ERROR`` measures nothing.
    requests:
        As :func:`load_requests` takes.
    rounds:
        Timed rounds of the whole batch; the median round is reported.
    single_calls:
        How many requests to time one call at a time (default: all, up to 100,000).
    verify:
        Check the engine's decision against the reference evaluator on the first ``verify`` requests first.

    Returns
    -------
    dict
        ``n_requests``, ``n_statements``, ``compile_seconds``, ``index_bytes``, ``ns_per_query`` and
        ``queries_per_sec`` (batch, median round), ``p50_ns``/``p99_ns``/``mean_ns`` (single calls), ``batch`` and
        ``single`` details, ``decisions`` (counts by the Simulator's decision word: ``allowed``, ...), ``verified`` and ``machine``.

    Raises
    ------
    RequestError
        For malformed requests (see :func:`load_requests`), or when ``verify`` finds a disagreement
        (``E_ENGINE_DISAGREES``).
    PolicyParseError
        When a listed policy does not parse or has an error finding.
    """
    import numpy as np

    from ..decision import Decision

    if rounds < 1:
        raise ValueError("`rounds` must be at least 1")
    reqs = load_requests(requests)
    principals = [r["principal"] for r in reqs]
    actions = [r["action"] for r in reqs]
    resources = [r["resource"] for r in reqs]
    contexts = [r["context"] for r in reqs]
    accounts = [r["resource_account"] for r in reqs]
    if not any(accounts):
        accounts = None
    ps = _policy_set(policy_set_or_files, principals)

    t0 = time.perf_counter()
    engine = ps.compile()
    compile_seconds = time.perf_counter() - t0
    n = len(reqs)

    decisions = engine.evaluate_batch(principals, actions, resources, contexts, resource_accounts=accounts)
    verified = 0
    if verify:
        from .. import reference
        from ..request import Request

        for i in range(min(verify, n)):
            req = Request(principals[i], actions[i], resources[i], accounts[i] if accounts else None, contexts[i])
            want = reference.evaluate(ps.enrich(req), ps.applicable(req)).decision
            if int(want) != int(decisions[i]):
                raise RequestError("E_ENGINE_DISAGREES",
                                   f"engine decides `{Decision(int(decisions[i])).name}`, the reference "
                                   f"`{want.name}`", f"$[{i}]")
            verified += 1

    out = np.empty(n, dtype=np.uint8)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        engine.evaluate_batch(principals, actions, resources, contexts, resource_accounts=accounts, out=out)
        times.append(time.perf_counter_ns() - t0)
    batch_ns = float(np.median(times)) / n

    m = min(n, 100_000) if single_calls is None else max(1, min(single_calls, n))
    is_allowed = engine.is_allowed
    clock = time.perf_counter_ns
    lat = []
    if accounts is None:
        for i in range(m):
            t0 = clock()
            is_allowed(principals[i], actions[i], resources[i], contexts[i])
            lat.append(clock() - t0)
    else:  # is_allowed takes no resource account: a batch of one is the same call
        for i in range(m):
            t0 = clock()
            engine.evaluate_batch([principals[i]], [actions[i]], [resources[i]], [contexts[i]],
                                  resource_accounts=[accounts[i]])
            lat.append(clock() - t0)
    lat.sort()
    mean_ns = sum(lat) / len(lat)

    counts = {d.simulator_name: int((decisions == int(d)).sum()) for d in Decision}
    return {
        "n_requests": n,
        "n_statements": engine.n_statements,
        "compile_seconds": compile_seconds,
        "index_bytes": engine.index_bytes,
        "ns_per_query": batch_ns,
        "queries_per_sec": 1e9 / batch_ns if batch_ns else float("inf"),
        "p50_ns": _percentile(lat, 50),
        "p99_ns": _percentile(lat, 99),
        "mean_ns": mean_ns,
        "batch": {"rounds": rounds, "round_ns": times},
        "single": {"calls": m, "p50_ns": _percentile(lat, 50), "p90_ns": _percentile(lat, 90),
                   "p99_ns": _percentile(lat, 99), "max_ns": lat[-1], "queries_per_sec": 1e9 / mean_ns},
        "decisions": counts,
        "verified": verified,
        "machine": {"python": platform.python_version(), "machine": platform.machine(),
                    "processor": platform.processor(), "cpus": os.cpu_count()},
    }


# =================================================================================================================
# Command line
# =================================================================================================================


def register(subparsers) -> None:
    """Add the ``bench`` verb to the ``lexauthz`` command line."""
    b = subparsers.add_parser(
        "bench", help="time the compiled engine on your policies and requests",
        description="Compile the policies once, then decide the requests in batches and one at a time; print "
                    "ns per query, queries per second and p50/p99 latency. Exit 0 on success, 1 on a usage, "
                    "input or verification error.")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--policies", nargs="+", metavar="POLICY",
                     help="identity policy files given to every principal the requests name")
    src.add_argument("--account", "--authorization-details", dest="account", nargs="+", metavar="ACCOUNT",
                     help="an account: the project's account file or folder, or `aws iam "
                          "get-account-authorization-details` output (one file or several)")
    b.add_argument("--requests", required=True, metavar="FILE",
                   help="a JSON array or JSON Lines of {\"principal\", \"action\", \"resource\", \"context\"}")
    b.add_argument("--rounds", type=int, default=5, help="timed batch rounds; the median is reported (default 5)")
    b.add_argument("--single-calls", type=int, default=None, metavar="N",
                   help="requests timed one call at a time (default: all, up to 100000)")
    b.add_argument("--verify", type=int, default=0, metavar="N",
                   help="first check the engine against the reference evaluator on N requests")
    add_output_flags(b, ("text", "json"), "text")
    b.set_defaults(func=_cmd_bench, _parser=b)


def _cmd_bench(args) -> int:
    from ..errors import LexAuthzError

    check_out(args)
    if args.rounds < 1:
        raise UsageError("--rounds must be at least 1", code="E_BAD_VALUE")
    try:
        if args.account:
            from ..account import load_account

            source: Any = load_account(args.account).policy_set
        else:
            source = list(args.policies)
        result = run_bench(source, args.requests, rounds=args.rounds, single_calls=args.single_calls,
                           verify=args.verify)
    except LexAuthzError as exc:
        raise CliError(getattr(exc, "code", "E_LEXAUTHZ"), _message(exc)) from None
    except (ValueError, TypeError) as exc:
        raise CliError("E_BAD_INPUT", str(exc)) from None
    with open_out(args) as out:
        if args.output == "json":
            json.dump(result, out, indent=2)
            out.write("\n")
            return EXIT_OK
        r = result
        s = r["single"]
        d = r["decisions"]
        w = out.write
        w(f"requests:        {r['n_requests']:,}  ({d['allowed']:,} allowed, {d['implicitDeny']:,} implicitDeny, "
          f"{d['explicitDeny']:,} explicitDeny, {d['error']:,} error)\n")
        w(f"statements:      {r['n_statements']:,}  compiled in {r['compile_seconds'] * 1000:.1f} ms, "
          f"index {r['index_bytes']:,} bytes\n")
        if r["verified"]:
            w(f"verified:        {r['verified']:,} requests agree with the reference evaluator\n")
        w(f"batch:           {r['ns_per_query']:,.0f} ns/query  {r['queries_per_sec']:,.0f} queries/s  "
          f"(evaluate_batch, median of {r['batch']['rounds']} rounds)\n")
        w(f"single calls:    p50 {r['p50_ns']:,} ns  p99 {r['p99_ns']:,} ns  mean {r['mean_ns']:,.0f} ns  "
          f"{s['queries_per_sec']:,.0f} queries/s  (is_allowed, {s['calls']:,} calls)\n")
    return EXIT_OK


def _message(exc) -> str:
    """The message of a lexauthz error without a repeated code prefix (RequestError renders ``CODE at PATH: ...``)."""
    if hasattr(exc, "message") and hasattr(exc, "path"):
        return f"{exc.message} (at {exc.path})"
    return str(exc)

"""Print a pytest-benchmark JSON file of this suite as the Markdown tables BENCHMARKS.md shows.

    python -m benchmarks.report benchmarks/results/<host>-py311.json
"""
from __future__ import annotations

import json
import sys

def _fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.2f}"


def report(data: dict) -> str:
    """The Markdown tables for one benchmark run."""
    by = {b["name"]: b for b in data["benchmarks"]}
    lines = []
    m = data.get("machine_info", {})
    lines.append(f"Machine: {m.get('cpu', {}).get('brand_raw', m.get('processor'))}, "
                 f"{m.get('cpu', {}).get('count', '?')} cpus; Python {m.get('python_version')}; "
                 f"run {data.get('datetime', '?')}")
    lines.append("")
    lines.append("| benchmark | group | median round | per query | queries/s | extra |")
    lines.append("| --- | --- | --- | --- | --- | --- |")
    for name in sorted(by):
        b = by[name]
        e = dict(b.get("extra_info", {}))
        ns = e.pop("ns_per_query", None)
        qps = e.pop("queries_per_sec", None)
        per = f"{_fmt(ns)} ns" if isinstance(ns, (int, float)) else (json.dumps(ns) if ns else "")
        q = _fmt(qps) if isinstance(qps, (int, float)) else ""
        lines.append(f"| `{name}` | {b['group']} | {b['stats']['median']:.4f} s | {per} | {q} | "
                     f"{json.dumps(e, sort_keys=True)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m benchmarks.report RESULTS.json", file=sys.stderr)
        return 1
    with open(args[0], encoding="utf-8") as f:
        print(report(json.load(f)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The HTML report of a diff or a matrix: one self-contained file a reviewer reads instead of JSON.

No network fetch (inline CSS, inline SVG drawn here, data links as ``data:`` URIs), no script, no timestamp unless
one is asked for: the same input gives the same bytes.  Every number shown carries its value in a ``data-value``
attribute (and, for the headline numbers, ``data-key`` names the summary field), so a test can check the page
against the JSON.  Every plot has a table with the same numbers beside it, and cells carry a symbol as well as a
colour.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
from typing import Iterable, Sequence

__all__ = ["diff_report", "matrix_report", "replay_report", "CHANGE_STYLE"]

#: Colour and symbol of each change kind (colour is never the only carrier of meaning).
CHANGE_STYLE = {
    "granted": ("#1b7837", "+"),
    "revoked": ("#b2182b", "\u2212"),
    "deny_reason_changed": ("#8c6bb1", "~"),
    "became_conditional": ("#d9a000", "?"),
    "became_unconditional": ("#2166ac", "!"),
}
DECISION_STYLE = {"allowed": "#1b7837", "implicitDeny": "#bdbdbd", "explicitDeny": "#b2182b", "error": "#000000"}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}th,td{border:1px solid #ddd;padding:3px 7px;
text-align:left;vertical-align:top}th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;
min-width:120px}.card .num{font-size:22px;font-weight:600;display:block}.card .lab{color:#555;font-size:12px}
.pair{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}.meta td:first-child{color:#555}
code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}pre{background:#f7f7f7;padding:6px;overflow-x:auto}
.hl{background:#fff3bf}.sent{margin:4px 0}.note{color:#555;font-size:12px}details{margin:4px 0}
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _n(x: int) -> str:
    return f"{x:,}"


def _num(value: int, key: str | None = None) -> str:
    k = f' data-key="{_e(key)}"' if key else ""
    return f'<span class="num"{k} data-value="{int(value)}">{_n(int(value))}</span>'


def _td(value: int) -> str:
    return f'<td class="n" data-value="{int(value)}">{_n(int(value))}</td>'


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], caption: str = "", cls: str = "") -> str:
    out = [f'<table{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>']
    if caption:
        out.append(f"<caption>{_e(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th scope=\"col\">{_e(h)}</th>" for h in head) + "</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


# -- SVG ---------------------------------------------------------------------------------------------------------------


def _svg_hbars(items: Sequence[tuple[str, Sequence[tuple[str, int, str]]]], title: str, width: int = 560) -> str:
    """Horizontal stacked bars: ``items`` are ``(label, [(part name, value, colour), ...])``."""
    label_w, bar_w, row_h = 200, width - 280, 22
    total_max = max([sum(v for _, v, _ in parts) for _, parts in items] or [1]) or 1
    h = 30 + row_h * len(items) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{h}" '
           f'viewBox="0 0 {width} {h}"><title>{_e(title)}</title>']
    for i, (label, parts) in enumerate(items):
        y = 24 + i * row_h
        short = label if len(label) <= 30 else label[:13] + "\u2026" + label[-16:]
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" font-size="11" text-anchor="end">{_e(short)}</text>')
        x = float(label_w)
        for name, v, colour in parts:
            if v <= 0:
                continue
            w = bar_w * v / total_max
            out.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{max(w, 0.5):.1f}" height="{row_h - 6}" fill="{colour}">'
                       f'<title>{_e(name)}: {_n(v)}</title></rect>')
            x += w
        out.append(f'<text x="{x + 4:.1f}" y="{y + 14}" font-size="11">{_n(sum(v for _, v, _ in parts))}</text>')
    out.append("</svg>")
    return "".join(out)


def _svg_heatmap(rows: Sequence[str], cols: Sequence[str], cells: Sequence[Sequence[tuple[int, str]]],
                 title: str) -> str:
    """A grid: each cell ``(count, change kind)``; colour and symbol by kind, opacity by count."""
    cw, ch, left, top = 16, 16, 250, 150
    w, h = left + cw * len(cols) + 130, top + ch * len(rows) + 10
    vmax = max([c for r in cells for c, _ in r] or [1]) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{w}" height="{h}" viewBox="0 0 {w} {h}">'
           f'<title>{_e(title)}</title>']
    for j, c in enumerate(cols):
        x = left + j * cw + cw / 2
        out.append(f'<text transform="translate({x:.1f},{top - 4}) rotate(-60)" font-size="10">{_e(c)}</text>')
    for i, r in enumerate(rows):
        y = top + i * ch
        short = r if len(r) <= 40 else r[:16] + "\u2026" + r[-22:]
        out.append(f'<text x="{left - 4}" y="{y + 12}" font-size="10" text-anchor="end">{_e(short)}</text>')
        for j, (count, kind) in enumerate(cells[i]):
            x = left + j * cw
            if not count:
                out.append(f'<rect x="{x}" y="{y}" width="{cw - 1}" height="{ch - 1}" fill="#f4f4f4"/>')
                continue
            colour, sym = CHANGE_STYLE[kind]
            op = 0.35 + 0.65 * count / vmax
            out.append(f'<rect x="{x}" y="{y}" width="{cw - 1}" height="{ch - 1}" fill="{colour}" '
                       f'fill-opacity="{op:.2f}"><title>{_e(r)} / {_e(cols[j])}: {_n(count)} {kind}</title></rect>'
                       f'<text x="{x + cw / 2 - 0.5:.1f}" y="{y + 12}" font-size="11" text-anchor="middle" '
                       f'fill="#fff">{sym}</text>')
    out.append("</svg>")
    return "".join(out)


def _legend() -> str:
    return '<p class="note">' + " &nbsp; ".join(
        f'<span style="color:{c}">{_e(s)}</span> {_e(k)}' for k, (c, s) in CHANGE_STYLE.items()) + "</p>"


def _data_link(name: str, text: str, mime: str, limit: int = 3_000_000) -> str:
    data = text.encode("utf-8")
    if len(data) > limit:
        return f'<span class="note">{_e(name)}: {_n(len(data))} bytes, too large to embed; see the JSON output</span>'
    uri = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
    return f'<a download="{_e(name)}" href="{uri}">{_e(name)}</a>'


def _file_rows(sources: dict) -> list[list[str]]:
    rows = []
    for side, files in sources.items():
        for path in files:
            try:
                with open(path, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
            except OSError:
                digest = "unreadable"
            rows.append([_e(side), f"<code>{_e(path)}</code>", f"<code>{digest}</code>"])
    return rows


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>\n" + "\n".join(body) +
            "\n</body></html>\n")


# -- the diff report -------------------------------------------------------------------------------------------------


_VERB = {"granted": "grants", "revoked": "revokes", "deny_reason_changed": "changes the deny reason of",
         "became_conditional": "makes conditional", "became_unconditional": "makes unconditional"}


def diff_report(d, *, title: str = "lexauthz what-if diff", sources: dict | None = None,
                timestamp: str | None = None, policies: dict | None = None) -> str:
    """The HTML of a :class:`~lexauthz.analysis.diff.Diff`.

    ``sources`` maps ``before``/``after`` to the files the accounts were read from (named with their SHA-256);
    ``policies`` maps a policy name to the policy's JSON text, shown beside the statement table with the
    responsible statement highlighted; ``timestamp`` is printed only when given.
    """
    from .. import __version__

    s = d.summary["summary"]
    body = [f"<h1>{_e(title)}</h1>"]
    meta = [["lexauthz", _e(__version__)], ["engine before", f"<code>{_e(d.summary['engine_before'])}</code>"],
            ["engine after", f"<code>{_e(d.summary['engine_after'])}</code>"],
            ["request space", f"{_num(s['shape']['principals'])} principals \u00d7 {_num(s['shape']['actions'])} "
                              f"actions \u00d7 {_num(s['shape']['resources'])} resources \u00d7 "
                              f"{_num(s['shape']['contexts'])} contexts"],
            ["classes evaluated", f"{_num(s['classes']['principals'])} \u00d7 {_num(s['classes']['actions'])} "
                                  f"\u00d7 {_num(s['classes']['resources'])} \u00d7 "
                                  f"{_num(s['classes']['contexts'])}"]]
    if timestamp:
        meta.append(["generated", _e(timestamp)])
    body.append(_table(["", ""], meta, cls="meta"))
    files = _file_rows(sources or {})
    if files:
        body.append(_table(["side", "file", "SHA-256"], files))

    body.append("<h2>Headline</h2><div class=\"cards\">")
    cards = [("cells", "cells evaluated", s["cells"]), ("changed", "changed", s["changed"])]
    cards += [(f"by_change.{k}", k.replace("_", " "), v) for k, v in s["by_change"].items()]
    for key, lab, v in cards:
        body.append(f'<div class="card">{_num(v, key)}<span class="lab">{_e(lab)}</span></div>')
    body.append("</div>")
    w = s["witnesses"]
    body.append(f'<p class="note">Witnesses re-checked by the reference evaluator: {_num(w["verified"], "witnesses.verified")}'
                f' of {_num(w["checked"], "witnesses.checked")}.</p>')

    # what each statement does
    if s["statements"]:
        body.append("<h2>Responsible statements</h2>")
        for st in s["statements"][:10]:
            parts = ", ".join(f"{_VERB[k]} {_num(v)} calls" for k, v in sorted(st["by_change"].items()))
            body.append(f'<p class="sent">This {_e(st["policy_type"].replace("_", " ").lower())} statement '
                        f'<code>{_e(st["policy_id"])}#{st["statement_index"]}</code>'
                        f'{" (" + _e(st["sid"]) + ")" if st["sid"] else ""} {parts} by {_num(st["principals"])} '
                        f'principals.</p>')

    # before -> after
    body.append("<h2>Decisions before and after</h2><div class=\"pair\">")
    trans = sorted(s["transitions"].items(), key=lambda kv: (-kv[1], kv[0]))
    by_before: dict[str, list] = {}
    for key, v in trans:
        b, a = key.split("->")
        by_before.setdefault(b, []).append((f"after: {a}", v, DECISION_STYLE.get(a, "#999")))
    body.append(_svg_hbars([(f"before: {b}", parts) for b, parts in sorted(by_before.items())],
                           "Cells by decision before, split by decision after"))
    body.append(_table(["before", "after", "cells"],
                       [[_e(k.split("->")[0]), _e(k.split("->")[1]), _td(v)] for k, v in trans],
                       "cells by decision before and after"))
    body.append("</div>")

    # heatmap
    hm = d.heatmap(50)
    if hm["principals"]:
        body.append("<h2>Changes by principal and action</h2>")
        body.append(_legend())
        cells = []
        flat = []
        for i, p in enumerate(hm["principals"]):
            row = []
            for j, a in enumerate(hm["actions"]):
                best = max(hm["counts"], key=lambda k: (hm["counts"][k][i][j], k))
                total = sum(hm["counts"][k][i][j] for k in hm["counts"])
                row.append((total, best))
                if total:
                    flat.append((p, a, best, total))
            cells.append(row)
        body.append('<div class="pair">' + _svg_heatmap(hm["principals"], hm["actions"], cells,
                                                        "Changed cells by principal and action") + "</div>")
        more = ""
        if hm["more_principals"] or hm["more_actions"]:
            more = (f' <span class="note">(top 50; {_n(hm["more_principals"])} more principals and '
                    f'{_n(hm["more_actions"])} more actions are in the tables below and the JSON)</span>')
        body.append(f"<details><summary>the heatmap as a table{more}</summary>" + _table(
            ["principal", "action", "change (most cells)", "changed cells"],
            [[_e(p), _e(a), f"{CHANGE_STYLE[k][1]} {_e(k)}", _td(n)] for p, a, k, n in flat[:2500]]) + "</details>")

    # top tables
    body.append("<h2>Top changes</h2><div class=\"pair\">")
    tp = list(s["by_principal"].items())[:25]
    ta = list(s["by_action"].items())[:25]
    body.append(_svg_hbars([(p, [("changed", v, "#b2182b")]) for p, v in tp[:15]], "Changed cells by principal"))
    body.append(_table(["principal", "changed cells"], [[f"<code>{_e(p)}</code>", _td(v)] for p, v in tp],
                       "by principal"))
    body.append("</div><div class=\"pair\">")
    body.append(_svg_hbars([(a, [("changed", v, "#2166ac")]) for a, v in ta[:15]], "Changed cells by action"))
    body.append(_table(["action", "changed cells"], [[f"<code>{_e(a)}</code>", _td(v)] for a, v in ta],
                       "by action"))
    body.append("</div>")
    if s["statements"]:
        rows = []
        for st in s["statements"][:50]:
            text = ""
            if policies:
                txt = policies.get(st["policy_id"])
                if txt:
                    text = _highlight(txt, st["statement_index"])
            rows.append([f"<code>{_e(st['policy_type'])}</code>", f"<code>{_e(st['policy_id'])}</code>",
                         _e(st["sid"] or ""), _td(st["statement_index"]),
                         _e(", ".join(f"{k}: {_n(v)}" for k, v in sorted(st["by_change"].items()))),
                         _td(st["cells"]), _td(st["principals"]), text])
        body.append("<h3>By policy statement</h3>" + _table(
            ["policy type", "policy", "Sid", "index", "changes", "cells", "principals", "statement"], rows))

    # drill-down
    body.append("<h2>Changes, one record each</h2>")
    for n, rec in enumerate(d.records[:200]):
        colour, sym = CHANGE_STYLE[rec["change"]]
        head = (f'<span style="color:{colour}">{sym}</span> {_e(rec["change"])}: {_num(rec["count"])} cells, e.g. '
                f'<code>{_e(rec["principal"])}</code> <code>{_e(rec["action"])}</code> on '
                f'<code>{_e(rec["resource"])}</code>')
        inner = [_table(["", "before", "after"], [
            ["decision", _e(rec["before"]["decision"]), _e(rec["after"]["decision"])],
            ["deciding", _refs(rec["before"]["deciding"]), _refs(rec["after"]["deciding"])],
            ["blocked by", _e(", ".join(rec["before"].get("blocked_by", []))),
             _e(", ".join(rec["after"].get("blocked_by", [])))]])]
        inner.append(_table(["witness principal", "action", "resource", "context", "verified"], [
            [f"<code>{_e(x['principal'])}</code>", f"<code>{_e(x['action'])}</code>",
             f"<code>{_e(x['resource'])}</code>", f"<code>{_e(json.dumps(x['context'], sort_keys=True))}</code>",
             "yes" if x["verified"] else "NO"] for x in rec["witnesses"]]))
        if rec["missing_context_values"]:
            inner.append(f'<p>Missing context keys: <code>{_e(", ".join(rec["missing_context_values"]))}</code></p>')
        inner.append(f'<p class="note">{_n(rec["n_principals"])} principals, {_n(rec["n_actions"])} actions, '
                     f'{_n(rec["n_resources"])} resources.</p>')
        body.append(f"<details{' open' if n < 3 else ''}><summary>{head}</summary>{''.join(inner)}</details>")
    if len(d.records) > 200:
        body.append(f'<p class="note">{_n(len(d.records) - 200)} more records are in the JSON Lines.</p>')

    buf = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in d.records) + json.dumps(d.summary) + "\n"
    body.append("<h2>Data</h2><p>" + _data_link("diff.jsonl", buf, "application/x-ndjson") + " &nbsp; " +
                _data_link("summary.json", json.dumps(d.summary, indent=1), "application/json") + "</p>")
    body.append('<p class="note">Coverage: the request space above; contexts as the space gives or generates them. '
                "Lex V1 runtime calls are not logged by CloudTrail, and session policies and session tags are known "
                "only as far as the account files hold them.</p>")
    return _page(title, body)


def _refs(refs: list) -> str:
    if not refs:
        return "\u2014"
    return "<br>".join(f"<code>{_e(r['policy_type'])} {_e(r['policy_id'])}#{r['statement_index']}"
                       f"{' (' + _e(r['sid']) + ')' if r.get('sid') else ''}</code>" for r in refs)


def _highlight(policy_json: str, index: int) -> str:
    """The policy's text with statement ``index`` highlighted."""
    try:
        data = json.loads(policy_json)
    except json.JSONDecodeError:
        return ""
    stmts = data.get("Statement") if isinstance(data, dict) else None
    if isinstance(stmts, dict):
        stmts = [stmts]
    if not isinstance(stmts, list):
        return ""
    parts = []
    for i, st in enumerate(stmts):
        text = _e(json.dumps(st, indent=1, sort_keys=False))
        parts.append(f'<span class="hl">{text}</span>' if i == index else text)
    return "<details><summary>text</summary><pre>" + ",\n".join(parts) + "</pre></details>"


# -- the matrix report -----------------------------------------------------------------------------------------------


def matrix_report(m, *, title: str = "lexauthz access matrix", sources: dict | None = None,
                  timestamp: str | None = None, top: int = 50) -> str:
    """The HTML of a :class:`~lexauthz.analysis.matrix.Matrix`: headline counts, allowed cells by principal and by
    action (plot and table), and a principals x actions heatmap of allowed resources."""
    import numpy as np

    from .. import __version__

    summ = m.summary()
    s = summ["summary"]
    body = [f"<h1>{_e(title)}</h1>"]
    meta = [["lexauthz", _e(__version__)], ["engine", f"<code>{_e(summ['engine'])}</code>"],
            ["request space", " \u00d7 ".join(f"{_num(v)} {k}" for k, v in s["shape"].items())],
            ["classes evaluated", " \u00d7 ".join(f"{_num(v)} {k}" for k, v in s["classes"].items()
                                                  if k != "evaluated")]]
    if timestamp:
        meta.append(["generated", _e(timestamp)])
    body.append(_table(["", ""], meta, cls="meta"))
    files = _file_rows(sources or {})
    if files:
        body.append(_table(["side", "file", "SHA-256"], files))
    body.append("<h2>Headline</h2><div class=\"cards\">")
    body.append(f'<div class="card">{_num(s["cells"], "cells")}<span class="lab">cells</span></div>')
    for k, v in s["by_decision"].items():
        body.append(f'<div class="card">{_num(v, "by_decision." + k)}<span class="lab">{_e(k)}</span></div>')
    body.append("</div>")

    pc, ac, rc = m.principal_classes, m.action_classes, m.resource_classes
    wa = np.bincount(ac.index, minlength=ac.n).astype(np.int64)
    wr = np.bincount(rc.index, minlength=rc.n).astype(np.int64)
    wp = np.bincount(pc.index, minlength=pc.n).astype(np.int64)
    allowed = (m.codes == 1)
    per_p_cls = np.einsum("pARc,A,R->p", allowed.astype(np.int64), wa, wr)
    per_a_cls = np.einsum("pARc,p,R->A", allowed.astype(np.int64), wp, wr)
    sp = m.space
    by_p = sorted(((int(per_p_cls[pc.index[i]]), sp.principal_labels[i]) for i in range(len(sp.principals))),
                  key=lambda x: (-x[0], x[1]))
    by_a = sorted(((int(per_a_cls[ac.index[j]]), sp.actions[j]) for j in range(len(sp.actions))),
                  key=lambda x: (-x[0], x[1]))
    body.append("<h2>Allowed cells</h2><div class=\"pair\">")
    body.append(_svg_hbars([(p, [("allowed", v, "#1b7837")]) for v, p in by_p[:15]], "Allowed cells by principal"))
    body.append(_table(["principal", "allowed cells"], [[f"<code>{_e(p)}</code>", _td(v)] for v, p in by_p[:top]],
                       "by principal"))
    body.append("</div><div class=\"pair\">")
    body.append(_svg_hbars([(a, [("allowed", v, "#1b7837")]) for v, a in by_a[:15]], "Allowed cells by action"))
    body.append(_table(["action", "allowed cells"], [[f"<code>{_e(a)}</code>", _td(v)] for v, a in by_a[:top]],
                       "by action"))
    body.append("</div>")
    rows = [p for v, p in by_p[:top] if v]
    cols = [a for v, a in by_a[:top] if v]
    if rows and cols:
        p_pos = {label: i for i, label in enumerate(sp.principal_labels)}
        a_pos = {a: j for j, a in enumerate(sp.actions)}
        per = np.einsum("pARc,R->pA", allowed.astype(np.int64), wr)
        grid, flat = [], []
        for p in rows:
            row = []
            for a in cols:
                n = int(per[pc.index[p_pos[p]], ac.index[a_pos[a]]])
                row.append((n, "granted"))
                if n:
                    flat.append((p, a, n))
            grid.append(row)
        body.append("<h2>Allowed (resource, context) cells by principal and action</h2>")
        body.append('<p class="note"><span style="color:#1b7837">+</span> allowed on at least one resource; '
                    "darker is more.</p>")
        body.append('<div class="pair">' + _svg_heatmap(rows, cols, grid, "Allowed cells by principal and action")
                    + "</div>")
        body.append("<details><summary>the heatmap as a table</summary>" + _table(
            ["principal", "action", "allowed cells"], [[_e(p), _e(a), _td(n)] for p, a, n in flat[:2500]]) +
            "</details>")
    body.append("<h2>Data</h2><p>" + _data_link("summary.json", json.dumps(summ, indent=1), "application/json") +
                "</p>")
    return _page(title, body)


# -- the replay report -----------------------------------------------------------------------------------------------

_OUTCOME_STYLE = {"allowed": ("#1b7837", "\u2713"), "denied": ("#b2182b", "\u2717"), "unknown": ("#8c8c8c", "?")}


def _outcome(value: str) -> str:
    colour, sym = _OUTCOME_STYLE.get(value, (DECISION_STYLE.get(value, "#000000"), "\u25a0"))
    return f'<span style="color:{colour}">{_e(sym)}</span> {_e(value)}'


def replay_report(r, *, title: str = "lexauthz CloudTrail replay", sources: dict | None = None,
                  timestamp: str | None = None, top: int = 200) -> str:
    """The HTML of a :class:`~lexauthz.analysis.replay.Replay`: headline numbers, the breaking and newly-allowed
    sets, the fidelity check with its causes, and the skipped records by reason.  ``sources`` maps a side name to
    its files (named with their SHA-256); at most ``top`` records are listed per table (all are in the JSON
    attached)."""
    from .. import __version__

    s = r.summary
    body = [f"<h1>{_e(title)}</h1>"]
    meta = [["lexauthz", _e(__version__)], ["engine current", f"<code>{_e(s['revisions']['current'])}</code>"]]
    for name in r.candidates:
        meta.append([f"engine {name}", f"<code>{_e(s['revisions'][name])}</code>"])
    meta.append(["context keys that split groups", _e(", ".join(s["grouping_keys"]) or "none")])
    if timestamp:
        meta.append(["generated", _e(timestamp)])
    body.append(_table(["", ""], meta, cls="meta"))
    files = _file_rows(sources or {})
    if files:
        body.append(_table(["side", "file", "SHA-256"], files))
    fid = s["fidelity"]
    body.append("<h2>Headline</h2><div class=\"cards\">")
    cards = [("records_read", "records read", s["records_read"]), ("events", "Lex events", s["events"]),
             ("distinct_requests", "distinct requests", s["distinct_requests"]),
             ("breaking.events", "breaking events", s["breaking"]["events"]),
             ("newly_allowed.events", "newly allowed events", s["newly_allowed"]["events"]),
             ("fidelity.disagree_events", "events lexauthz decides otherwise than AWS did", fid["disagree_events"]),
             ("skipped", "records skipped", sum(s["skipped"].values()))]
    for key, lab, v in cards:
        body.append(f'<div class="card">{_num(v, key)}<span class="lab">{_e(lab)}</span></div>')
    body.append("</div>")
    rate = fid["disagreement_rate"]
    body.append(f'<p>Fidelity: of {_num(fid["compared_events"], "fidelity.compared_events")} events with a known '
                f'outcome, {_num(fid["agree_events"], "fidelity.agree_events")} are decided by the current account '
                f'as AWS decided them (disagreement rate {rate:.4%}); '
                f'{_num(fid["unknown_events"], "fidelity.unknown_events")} events failed with another error and '
                "are not compared.</p>")
    if fid["causes"]:
        body.append(_table(["likely cause of a disagreement", "events"],
                           [[_e(k), _td(v)] for k, v in sorted(fid["causes"].items())]))
    if r.candidates:
        items = [(n, [("breaking", c["breaking_events"], "#b2182b"),
                      ("newly allowed", c["newly_allowed_events"], "#1b7837")]) for n, c in s["candidates"].items()]
        body.append("<h2>Candidates</h2><div class=\"pair\">")
        body.append(_svg_hbars(items, "breaking and newly allowed events per candidate"))
        body.append(_table(["candidate", "breaking records", "breaking events", "newly allowed records",
                            "newly allowed events", "records whose decision changes"],
                           [[_e(n), _td(c["breaking_records"]), _td(c["breaking_events"]),
                             _td(c["newly_allowed_records"]), _td(c["newly_allowed_events"]),
                             _td(c["changed_records"])] for n, c in s["candidates"].items()]))
        body.append("</div>")

    def rows(recs):
        out = []
        for x in recs[:top]:
            cand = x.get("candidate") or ", ".join(f"{k}: {v['decision']}" for k, v in x.get("candidates", {}).items())
            deciding = x.get("candidate_deciding") or [d for v in x.get("candidates", {}).values()
                                                       for d in v.get("deciding", [])]
            out.append([f"<code>{_e(x['principal'])}</code>", f"<code>{_e(x['action'])}</code>",
                        f"<code>{_e(x['resource'])}</code>", _td(x["events"]), _outcome(x["observed"]),
                        _outcome(x["current"]), _e(cand),
                        _e("; ".join(f"{d['policy_type']} {d['policy_id']}#{d['statement_index']}"
                                     + (f" ({d['sid']})" if d.get("sid") else "") for d in deciding)),
                        _e(x["last_seen"])])
        return out

    head = ["principal", "action", "resource", "events", "observed", "current", "candidate", "deciding statements",
            "last seen"]
    for name, recs, what in (("breaking", r.breaking(), "observed allowed, a candidate does not allow"),
                             ("newly-allowed", r.newly_allowed(), "observed denied, a candidate allows"),
                             ("disagreements", r.disagreements(), "the current account decides otherwise than AWS")):
        body.append(f"<h2 id=\"{name}\">{_e(name.replace('-', ' ').capitalize())}: {_e(what)}</h2>")
        if recs:
            body.append(_table(head, rows(recs)))
            if len(recs) > top:
                body.append(f'<p class="note">{_n(len(recs) - top)} more in the JSON attached.</p>')
        else:
            body.append("<p>None.</p>")
    body.append("<h2>Skipped records</h2>")
    if s["skipped"]:
        body.append(_table(["reason", "records", "first locations"],
                           [[f"<code>{_e(k)}</code>", _td(v), _e("; ".join(s["skipped_samples"].get(k, [])))]
                            for k, v in s["skipped"].items()]))
    else:
        body.append("<p>None.</p>")
    text = "".join(json.dumps(x) + "\n" for x in r.records)
    body.append("<h2>Data</h2><p>" + _data_link("replay.jsonl", text, "application/x-ndjson") + " \u00b7 " +
                _data_link("summary.json", json.dumps(s, indent=1), "application/json") + "</p>")
    return _page(title, body)

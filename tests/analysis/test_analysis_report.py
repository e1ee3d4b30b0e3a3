"""The HTML report: one self-contained, byte-stable file whose every number equals the JSON's, checked by parsing
and in a real headless Chromium (a screenshot and the rendered DOM)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from lexauthz.account import Account, PolicySet
from lexauthz.analysis import resolve_space
from lexauthz.analysis.diff import diff
from lexauthz.analysis.matrix import matrix
from lexauthz.analysis.report import diff_report, matrix_report

CHROMIUM = "/usr/bin/chromium"
ACCT = "111122223333"


def _accounts():
    from lexauthz import NamedPolicy, load_policy

    ps = PolicySet()
    dev = NamedPolicy("arn:aws:iam::111122223333:policy/LexDeveloper", load_policy(json.dumps({
        "Version": "2012-10-17", "Statement": [{"Sid": "Build", "Effect": "Allow", "Action": "lex:*",
                                                "Resource": "*"}]})))
    ps.add_group("devs", [dev])
    for i in range(12):
        ps.add_principal(f"arn:aws:iam::{ACCT}:role/Team{i}", groups=["devs"] if i % 3 else [])
    for i in range(8):
        ps.add_resource(f"arn:aws:lex:us-east-1:{ACCT}:bot/BOT{i}", tags={"env": "prod" if i < 4 else "dev"})
    after = ps.snapshot()
    after.add_scp("root", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "NoProdDeletes", "Effect": "Deny", "Action": "lex:Delete*", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/env": "prod"}}}]}, name="scp-NoProdDeletes")
    after.add_principal(f"arn:aws:iam::{ACCT}:role/Team0", groups=["devs"])
    return Account.from_policy_set(ps), Account.from_policy_set(after)


@pytest.fixture(scope="module")
def the_diff():
    a, b = _accounts()
    return diff(a, b, resolve_space({"principals": ["known"], "actions": ["lex:*"], "contexts": [{}]}, [a, b]))


class _Page(HTMLParser):
    """Collects the headline numbers (data-key -> (data-value, text)), table rows and every link or source."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.keys: dict[str, tuple[int, str]] = {}
        self.rows: list[list[tuple[str, str | None]]] = []
        self.urls: list[str] = []
        self._key = None
        self._text = ""
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name in ("src", "href"):
            if name in a:
                self.urls.append(a[name])
        if tag == "span" and "data-key" in a:
            self._key, self._val, self._text = a["data-key"], int(a["data-value"]), ""
        if tag == "tr":
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = ["", a.get("data-value")]

    def handle_endtag(self, tag):
        if tag == "span" and self._key is not None:
            self.keys[self._key] = (self._val, self._text)
            self._key = None
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append((self._cell[0].strip(), self._cell[1]))
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._key is not None:
            self._text += data
        if self._cell is not None:
            self._cell[0] += data


def _parse(text: str) -> _Page:
    p = _Page()
    p.feed(text)
    p.close()
    return p


def _summary_values(summary: dict) -> dict[str, int]:
    s = summary["summary"]
    out = {"cells": s["cells"], "changed": s["changed"], "witnesses.checked": s["witnesses"]["checked"],
           "witnesses.verified": s["witnesses"]["verified"]}
    out.update({f"by_change.{k}": v for k, v in s["by_change"].items()})
    return out


def _check_numbers(page: _Page, summary: dict) -> None:
    want = _summary_values(summary)
    assert {k: v for k, (v, _) in page.keys.items()} == want
    for k, (v, text) in page.keys.items():
        assert text.replace(",", "") == str(v)  # what is shown is the value
    by_principal = summary["summary"]["by_principal"]
    shown = {r[0][0]: int(r[1][1]) for r in page.rows if len(r) == 2 and r[0][0] in by_principal and r[1][1]}
    assert shown == by_principal
    by_action = summary["summary"]["by_action"]
    shown = {r[0][0]: int(r[1][1]) for r in page.rows if len(r) == 2 and r[0][0] in by_action and r[1][1]}
    assert shown == dict(list(by_action.items())[:25])


def test_diff_report_is_self_contained_stable_and_has_the_json_numbers(the_diff):
    text = diff_report(the_diff)
    assert text == diff_report(the_diff)  # byte-stable: no time stamp unless asked for
    assert "generated" not in text and "generated" in diff_report(the_diff, timestamp="2026-01-01")
    page = _parse(text)
    assert all(u.startswith("data:") for u in page.urls), page.urls
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text
    _check_numbers(page, the_diff.summary)
    s = the_diff.summary["summary"]
    assert s["by_change"]["revoked"] > 0 and s["by_change"]["granted"] > 0
    sentence = next(line for line in text.splitlines()
                    if "This service control policy statement <code>scp-NoProdDeletes#1</code>" in line)
    revoked = next(x for x in s["statements"] if x["sid"] == "NoProdDeletes")["by_change"]["revoked"]
    assert f'revokes <span class="num" data-value="{revoked}">{revoked:,}</span> calls' in sentence
    assert text.count("<svg") >= 4 and text.count("<table") >= text.count("<svg")


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent (apt-get install -y chromium)")
def test_diff_report_in_headless_chromium(the_diff, tmp_path):
    html_path = tmp_path / "whatif.html"
    html_path.write_text(diff_report(the_diff), encoding="utf-8")
    dom = _chromium(tmp_path, html_path, "--dump-dom")
    page = _parse(dom.decode("utf-8"))
    _check_numbers(page, the_diff.summary)
    png = tmp_path / "whatif.png"
    _chromium(tmp_path, html_path, f"--screenshot={png}", "--window-size=1280,2000")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    _keep(png)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent (apt-get install -y chromium)")
def test_matrix_report_in_headless_chromium(tmp_path):
    a, _ = _accounts()
    m = matrix(a, resolve_space({"actions": ["lex:*"], "contexts": [{}]}, [a]))
    text = matrix_report(m)
    assert text == matrix_report(m)
    html_path = tmp_path / "matrix.html"
    html_path.write_text(text, encoding="utf-8")
    page = _parse(_chromium(tmp_path, html_path, "--dump-dom").decode("utf-8"))
    counts = m.counts()
    assert {k: v for k, (v, _) in page.keys.items()} == {"cells": m.cells,
                                                          **{f"by_decision.{k}": v for k, v in counts.items()}}
    png = tmp_path / "matrix.png"
    _chromium(tmp_path, html_path, f"--screenshot={png}", "--window-size=1280,2000")
    assert png.stat().st_size > 20_000
    _keep(png)


def _chromium(tmp_path, html_path, *extra) -> bytes:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", *extra, html_path.as_uri()]
    done = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-2000:]
    return done.stdout


def _keep(png) -> None:
    """Copy the screenshot to $LEXAUTHZ_ARTIFACTS when CI sets it, so the run keeps what the browser drew."""
    dest = os.environ.get("LEXAUTHZ_ARTIFACTS")
    if dest:
        os.makedirs(dest, exist_ok=True)
        shutil.copy(png, os.path.join(dest, os.path.basename(png)))

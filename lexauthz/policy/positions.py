"""Map JSON paths to line and column in a JSON text, and find duplicate object keys.

The parser builds the policy model from ``json.loads``; this module is only run when a finding needs a location in
the text (diagnostics cost nothing on success) or when ``json.loads`` reported that some object repeats a key.  It
is exact on valid JSON and never raises on any other text (a malformed document still gets a best-effort location:
an unmatched closing bracket, an undecodable key or a value without a key is skipped over, never an exception), and
it never recurses, so deeply nested input is safe.
"""
from __future__ import annotations

__all__ = ["JsonPositions", "scan_positions", "join_path", "path_elements", "find_bareword"]

_WS = " \t\n\r"


def join_path(parent: str, part: str | int) -> str:
    """``$.Statement`` + ``0`` -> ``$.Statement[0]``; + ``"Action"`` -> ``$.Statement[0].Action``.

    Keys that are not plain identifiers are quoted: ``$.Condition["aws:SourceIp"]``.
    """
    if isinstance(part, int):
        return f"{parent}[{part}]"
    if part.isidentifier():
        return f"{parent}.{part}"
    escaped = part.replace("\\", "\\\\").replace('"', '\\"')
    return f'{parent}["{escaped}"]'


def path_elements(path: str) -> list[dict]:
    """A JSON path as Access Analyzer's location path: ``$.Statement[0]["aws:SourceIp"]`` ->
    ``[{"value": "Statement"}, {"index": 0}, {"value": "aws:SourceIp"}]``."""
    out: list[dict] = []
    i = 1 if path.startswith("$") else 0
    n = len(path)
    while i < n:
        c = path[i]
        if c == ".":
            j = i + 1
            while j < n and path[j] not in ".[":
                j += 1
            out.append({"value": path[i + 1 : j]})
            i = j
        elif path.startswith('["', i):
            j = i + 2
            buf = []
            while j < n and path[j] != '"':
                if path[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(path[j])
                j += 1
            out.append({"value": "".join(buf)})
            i = j + 2
        elif c == "[":
            j = path.index("]", i)
            out.append({"index": int(path[i + 1 : j])})
            i = j + 1
        else:
            i += 1
    return out


class JsonPositions:
    """Where each JSON path starts in the text (1-based line and column), and which object keys repeat."""

    __slots__ = ("_starts", "duplicates", "_line_starts")

    def __init__(self, starts: dict[str, int], duplicates: list[tuple[str, int]], line_starts: list[int]):
        self._starts = starts
        #: ``(path of the repeated key, offset)`` for every repeated key, in text order.
        self.duplicates = duplicates
        self._line_starts = line_starts

    def offset_to_line_col(self, offset: int) -> tuple[int, int]:
        import bisect

        i = bisect.bisect_right(self._line_starts, offset) - 1
        return i + 1, offset - self._line_starts[i] + 1

    def locate(self, path: str) -> tuple[int, int] | None:
        """Line and column of the value at ``path``, or of its nearest ancestor that exists in the text."""
        p = path
        while p:
            off = self._starts.get(p)
            if off is not None:
                return self.offset_to_line_col(off)
            cut = max(p.rfind("."), p.rfind("["))
            if cut <= 0:
                break
            p = p[:cut]
        off = self._starts.get("$")
        return self.offset_to_line_col(off) if off is not None else None


def _skip_string(text: str, i: int) -> int:
    """``i`` at the opening quote; returns the index after the closing quote."""
    i += 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            return i + 1
        i += 1
    return n


def find_bareword(text: str, word: str) -> int | None:
    """The offset of the first ``word`` outside a string in ``text`` (e.g. ``NaN``, which JSON refuses), or None."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = _skip_string(text, i)
        elif text.startswith(word, i):
            return i
        else:
            i += 1
    return None


def _key_of(raw: str) -> str:
    """The key a quoted JSON string spells; on a malformed one (bad escape, unterminated), its raw characters."""
    import json

    try:
        key = json.loads(raw)
    except ValueError:
        key = None
    if type(key) is not str:
        key = raw[1:-1] if raw.endswith('"') and len(raw) > 1 else raw[1:]
    return key


def scan_positions(text: str) -> JsonPositions:
    """Scan a JSON text once and record the start offset of every value by JSON path (best effort, never raising,
    on text that is not valid JSON)."""
    starts: dict[str, int] = {}
    duplicates: list[tuple[str, int]] = []
    line_starts = [0]
    for idx, ch in enumerate(text):
        if ch == "\n":
            line_starts.append(idx + 1)
    n = len(text)
    # Each frame: [kind, path, seen_keys_or_index, pending_key]
    stack: list[list] = []
    i = 0
    path = "$"
    expect_value = True
    while i < n:
        c = text[i]
        if c in _WS or c == ",":
            i += 1
            continue
        if c == ":":
            i += 1
            continue
        if stack and stack[-1][0] == "obj" and c == '"' and stack[-1][3] is None:
            end = _skip_string(text, i)
            key = _key_of(text[i:end])
            frame = stack[-1]
            kpath = join_path(frame[1], key)
            if key in frame[2]:
                duplicates.append((kpath, i))
            frame[2].add(key)
            frame[3] = kpath
            i = end
            continue
        if c in "}]":
            if stack:  # an unmatched closing bracket (only in malformed text) closes nothing
                stack.pop()
            i += 1
            continue
        # a value starts here
        if stack:
            frame = stack[-1]
            if frame[0] == "obj":
                # a value without a key (only in malformed text) is placed at its object
                path = frame[3] if frame[3] is not None else frame[1]
                frame[3] = None
            else:
                path = join_path(frame[1], frame[2])
                frame[2] += 1
        else:
            path = "$"
        if path not in starts:
            starts[path] = i
        if c == "{":
            stack.append(["obj", path, set(), None])
            i += 1
        elif c == "[":
            stack.append(["arr", path, 0, None])
            i += 1
        elif c == '"':
            i = _skip_string(text, i)
        else:
            while i < n and text[i] not in ",]}" and text[i] not in _WS:
                i += 1
    del expect_value
    return JsonPositions(starts, duplicates, line_starts)

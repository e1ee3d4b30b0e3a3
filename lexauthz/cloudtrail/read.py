"""CloudTrail records as users have them, streamed: trail files, JSON Lines, EventBridge, lookup-events, and
CloudTrail Lake / Athena exports (CSV, Parquet) in the flattened column set of ``athena.sql``.

:func:`read_records` yields a :class:`Record` per record and a :class:`Skip` per thing it cannot use (a corrupt
gzip member, a truncated JSON document, a line that is not JSON, a file without ``Records``, a struct-looking CSV
cell), each with its location (``file``, ``file:line``, ``file:$.Records[12]``, ``file:row 7``).  Nothing is dropped
silently and nothing raises for bad content.  One trail file is read at a time (gzip cannot be split); JSON Lines
and CSV are streamed line by line, so memory does not grow with the log.
"""
from __future__ import annotations

import csv
import gzip
import json
import os
import zlib
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

__all__ = ["Record", "Skip", "trail_files", "read_file", "read_records", "FLAT_COLUMNS", "loads"]

try:  # a fast JSON decoder when installed (the `analysis` extra); json otherwise
    import orjson as _orjson

    def loads(data):
        return _orjson.loads(data)

    _JSON_ERRORS: tuple = (_orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - exercised where orjson is absent
    def loads(data):
        return json.loads(data)

    _JSON_ERRORS = (ValueError,)

#: The flattened columns of a CloudTrail Lake / Athena export (``athena.sql``), lower case.
FLAT_COLUMNS = ("eventtime", "eventsource", "eventname", "awsregion", "recipientaccountid", "ui_type", "ui_arn",
                "ui_principalid", "ui_accesskeyid", "ui_accountid", "issuer_arn", "mfa", "invokedby",
                "sourceipaddress", "vpcendpointid", "errorcode", "errormessage", "requestparameters",
                "resources_json", "eventid", "readonly")
_SKIP_DIRS = ("CloudTrail-Digest", "CloudTrail-Insight")


@dataclass(frozen=True, slots=True)
class Skip:
    """Something read that is not a usable record: a stable ``reason`` code, where, and why."""

    reason: str
    location: str
    detail: str = ""
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class Record:
    """One CloudTrail record (the inner record of an EventBridge or lookup-events wrapper) and where it was read."""

    data: Mapping
    location: str


def trail_files(paths: Iterable[str | os.PathLike]) -> list[str]:
    """The files under ``paths`` (files as given, folders walked), skipping ``CloudTrail-Digest`` and
    ``CloudTrail-Insight`` folders and hidden files; sorted within each folder given."""
    out: list[str] = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            found = []
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
                found.extend(os.path.join(dirpath, f) for f in filenames if not f.startswith("."))
            out.extend(sorted(found))
        else:
            out.append(p)
    return out


def read_records(paths: Iterable[str | os.PathLike]) -> Iterator[Record | Skip]:
    """Every record of every file under ``paths`` (see :func:`trail_files`); a path that does not exist is a fatal
    :class:`Skip`."""
    for p in paths:
        if not os.path.exists(os.fspath(p)):
            yield Skip("S_NO_SUCH_PATH", os.fspath(p), "the path does not exist", fatal=True)
    for f in trail_files(p for p in paths if os.path.exists(os.fspath(p))):
        yield from read_file(f)


def _open_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        return gzip.decompress(raw)
    return raw


def read_file(path: str) -> Iterator[Record | Skip]:
    """The records of one file, its form found from its content (and ``.csv`` / ``.parquet`` suffixes)."""
    low = path.lower()
    try:
        if low.endswith(".parquet"):
            yield from _read_parquet(path)
            return
        if low.endswith((".csv", ".csv.gz")):
            yield from _read_csv(path)
            return
        data = _open_bytes(path)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        yield Skip("S_CORRUPT_GZIP", path, str(exc) or "not a complete gzip stream")
        return
    except OSError as exc:
        yield Skip("S_UNREADABLE", path, (exc.strerror or str(exc)).lower())
        return
    head = data.lstrip()[:1]
    if not head:
        yield Skip("S_EMPTY_FILE", path, "the file is empty")
        return
    try:
        doc = loads(data)
    except _JSON_ERRORS:
        doc = None
    if doc is None and head == b"{" and _first_line_is_json(data):
        yield from _read_lines(path, data)
        return
    if doc is None:
        yield Skip("S_TRUNCATED_JSON", path, "not a complete JSON document (a truncated or damaged file)")
        return
    yield from _read_document(path, doc)


def _read_document(path: str, doc: Any) -> Iterator[Record | Skip]:
    if isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from _one(item, f"{path}:$[{i}]")
        return
    if not isinstance(doc, dict):
        yield Skip("S_NO_RECORDS", path, "the file holds neither `Records`, `Events` nor a record")
        return
    if "Records" in doc:
        recs = doc["Records"]
        if not isinstance(recs, list):
            yield Skip("S_NO_RECORDS", f"{path}:$.Records", "`Records` is not a list")
            return
        for i, r in enumerate(recs):
            yield from _one(r, f"{path}:$.Records[{i}]")
        return
    if "Events" in doc and isinstance(doc["Events"], list):  # aws cloudtrail lookup-events
        for i, e in enumerate(doc["Events"]):
            loc = f"{path}:$.Events[{i}]"
            text = e.get("CloudTrailEvent") if isinstance(e, dict) else None
            if not isinstance(text, str):
                yield Skip("S_NOT_A_RECORD", loc, "a lookup-events entry without a `CloudTrailEvent` string")
                continue
            try:
                inner = loads(text)
            except _JSON_ERRORS:
                yield Skip("S_TRUNCATED_JSON", loc + ".CloudTrailEvent", "`CloudTrailEvent` is not JSON")
                continue
            yield from _one(inner, loc)
        return
    yield from _one(doc, path, missing_records=True)


def _one(item: Any, loc: str, missing_records: bool = False) -> Iterator[Record | Skip]:
    if isinstance(item, dict) and "detail" in item and "detail-type" in item:  # EventBridge envelope
        item = item["detail"]
        loc = loc + ".detail" if ":$" in loc else loc + ":$.detail"
    if isinstance(item, dict) and "eventSource" in item and "eventName" in item:
        yield Record(item, loc)
    elif missing_records:
        yield Skip("S_NO_RECORDS", loc, "the file has no `Records` list and is not a record")
    else:
        yield Skip("S_NOT_A_RECORD", loc, "not a CloudTrail record (no `eventSource` / `eventName`)")


def _first_line_is_json(data: bytes) -> bool:
    for line in data.splitlines():
        if line.strip():
            try:
                loads(line)
                return True
            except _JSON_ERRORS:
                return False
    return False


def _read_lines(path: str, data: bytes) -> Iterator[Record | Skip]:
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = loads(line)
        except _JSON_ERRORS:
            yield Skip("S_TRUNCATED_JSON", f"{path}:{n}", "the line is not a complete JSON value")
            continue
        yield from _one(doc, f"{path}:{n}")


# -- flattened exports --------------------------------------------------------------------------------------------

_SQL_HINT = "export with the flattened columns of lexauthz/cloudtrail/athena.sql"


def _flat_record(row: Mapping[str, Any], loc: str) -> Record | Skip:
    def get(k):
        v = row.get(k)
        return None if v in (None, "") else v

    for k in ("requestparameters", "resources_json"):
        v = get(k)
        if isinstance(v, str) and v.startswith("{") and "=" in v and '"' not in v:
            return Skip("S_STRUCT_CELL", loc, f"column `{k}` holds a struct (`{{key=value}}`), not JSON: {_SQL_HINT}")
    for k in ("useridentity", "resources"):
        if get(k) is not None:
            return Skip("S_STRUCT_CELL", loc, f"column `{k}` is a struct column: {_SQL_HINT}")
    if get("eventsource") is None or get("eventname") is None:
        return Skip("S_NOT_A_RECORD", loc, f"no `eventsource` / `eventname` column: {_SQL_HINT}")
    ui: dict = {"type": get("ui_type"), "arn": get("ui_arn"), "principalId": get("ui_principalid"),
                "accessKeyId": get("ui_accesskeyid"), "accountId": get("ui_accountid")}
    if get("issuer_arn") is not None or get("mfa") is not None:
        ui["sessionContext"] = {"sessionIssuer": {"arn": get("issuer_arn")},
                                "attributes": {"mfaAuthenticated": str(get("mfa")).lower() if get("mfa") is not None
                                               else None}}
    if get("invokedby") is not None:
        ui["invokedBy"] = get("invokedby")
    rec: dict = {"eventTime": _time(get("eventtime")), "eventSource": get("eventsource"),
                 "eventName": get("eventname"), "awsRegion": get("awsregion"),
                 "recipientAccountId": get("recipientaccountid"), "userIdentity": {k: v for k, v in ui.items()
                                                                                   if v is not None},
                 "sourceIPAddress": get("sourceipaddress"), "vpcEndpointId": get("vpcendpointid"),
                 "errorCode": get("errorcode"), "errorMessage": get("errormessage"), "eventID": get("eventid")}
    if get("readonly") is not None:
        rec["readOnly"] = str(get("readonly")).lower() == "true"
    for k, out in (("requestparameters", "requestParameters"), ("resources_json", "resources")):
        v = get(k)
        if isinstance(v, str):
            try:
                v = loads(v)
            except _JSON_ERRORS:
                return Skip("S_TRUNCATED_JSON", loc, f"column `{k}` is not JSON")
        rec[out] = v
    return Record({k: v for k, v in rec.items() if v is not None}, loc)


def _time(v):
    if v is None or isinstance(v, str):
        if isinstance(v, str) and " " in v and "T" not in v:  # Athena / Lake `2026-08-01 04:10:00.000`
            v = v.split(".")[0].replace(" ", "T") + "Z"
        return v
    if hasattr(v, "strftime"):
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(v)


def _read_csv(path: str) -> Iterator[Record | Skip]:
    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None:
                yield Skip("S_EMPTY_FILE", path, "the CSV file has no header")
                return
            names = [n.strip().lower() for n in reader.fieldnames]
            for n, row in enumerate(reader, 2):
                yield _flat_record(dict(zip(names, row.values())), f"{path}:row {n}")
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        yield Skip("S_CORRUPT_GZIP", path, str(exc))
    except (UnicodeDecodeError, csv.Error) as exc:
        yield Skip("S_BAD_CSV", path, str(exc))


def _read_parquet(path: str) -> Iterator[Record | Skip]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        yield Skip("S_NEEDS_PYARROW", path, "reading Parquet needs pyarrow: pip install 'lexauthz[analysis]'", True)
        return
    try:
        f = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a damaged file
        yield Skip("S_BAD_PARQUET", path, str(exc))
        return
    names = [n.lower() for n in f.schema_arrow.names]
    n = 0
    for batch in f.iter_batches(batch_size=4096):
        cols = [c.to_pylist() for c in batch.columns]
        for values in zip(*cols):
            n += 1
            yield _flat_record(dict(zip(names, values)), f"{path}:row {n}")

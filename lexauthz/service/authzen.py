"""The AuthZEN Authorization API 1.0 endpoints: evaluation, evaluations, subject / resource / action search, and
the metadata document.

Each handler takes the parsed JSON body and the serving :class:`~lexauthz.service.engines.Loaded` and returns the
response payload, or raises :class:`~lexauthz.service.errors.ServiceError` (HTTP 400 for a malformed request).  A
deny is always ``200 {"decision": false, ...}``; a failure inside a decision is a deny with the error named in
``context.error``, never an allow.
"""
from __future__ import annotations

import base64
import collections
import hashlib
import threading
import time
from typing import Any, Mapping

from ..decision import Decision
from ..errors import RequestError
from ..request import Request
from .errors import ServiceError
from .mapping import RESOURCE_TYPES, SUBJECT_TYPES, Mapper, SharedContexts, allow_context, deny_context

__all__ = ["Evaluator", "metadata", "SEMANTICS", "CAPABILITIES"]

SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")

#: What the metadata document advertises about the entity mapping (see :mod:`lexauthz.service.mapping`).
CAPABILITIES = (
    "urn:lexauthz:authzen:subject-type:iam_principal",
    "urn:lexauthz:authzen:subject-type:aws_account",
    "urn:lexauthz:authzen:subject-type:aws_service",
    "urn:lexauthz:authzen:resource-type:lex_resource",
    "urn:lexauthz:authzen:action:iam-action",
    "urn:lexauthz:authzen:context:iam-condition-keys",
)
_CHUNK = 1024
_DECISIONS = tuple(Decision(c) for c in range(4))
_WORDS = tuple(d.simulator_name for d in _DECISIONS)
# answers shared by every item that gets them (never mutated; orjson writes them out)
_ALLOWED = {"decision": True}
_IMPLICIT_DENIED = {"decision": False, "context": {"reason": "implicitDeny"}}
_EXPLICIT_DENIED = {"decision": False, "context": {"reason": "explicitDeny"}}
_ALLOW, _EXPLICIT, _ERROR = int(Decision.ALLOW), int(Decision.EXPLICIT_DENY), int(Decision.ERROR)


def metadata(base_url: str, search: bool) -> dict:
    """The ``/.well-known/authzen-configuration`` document (search endpoints only when the service can search)."""
    base = base_url.rstrip("/")
    out = {
        "policy_decision_point": base,
        "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
    }
    if search:
        out["search_subject_endpoint"] = f"{base}/access/v1/search/subject"
        out["search_resource_endpoint"] = f"{base}/access/v1/search/resource"
        out["search_action_endpoint"] = f"{base}/access/v1/search/action"
    out["capabilities"] = list(CAPABILITIES) + ([] if not search else ["urn:lexauthz:authzen:search:who-can"])
    return out


def _object(body: Any) -> Mapping:
    if not isinstance(body, dict):
        raise ServiceError("E_BAD_REQUEST", "the request body must be a JSON object", "$")
    return body


class Evaluator:
    """Answers AuthZEN requests for one service: the engine is passed per call (read once by the caller)."""

    def __init__(self, *, explain: bool = True, trust_request_properties: bool = False, max_batch: int = 10_000,
                 decision_seconds: float = 2.0, max_page: int = 1000):
        import weakref

        self.explain = explain
        self.trust = trust_request_properties
        self.max_batch = max_batch
        self.decision_seconds = decision_seconds
        self.max_page = max_page
        self._mappers: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        self._pages: collections.OrderedDict = collections.OrderedDict()
        self._pages_lock = threading.Lock()

    def mapper(self, loaded) -> Mapper:
        m = self._mappers.get(loaded)
        if m is None:
            acct = loaded.account
            m = self._mappers[loaded] = Mapper(acct.principals if acct is not None else None,
                                               acct.resources if acct is not None else None,
                                               trust_request_properties=self.trust,
                                               reads=getattr(loaded.engine, "context_keys", None))
        return m

    # -- evaluation -------------------------------------------------------------------------------------------

    def evaluation(self, body: Any, loaded) -> tuple[dict, list]:
        """One Access Evaluation: ``({"decision", "context"}, log records)``."""
        body = _object(body)
        req = self.mapper(loaded).request(body.get("subject"), body.get("action"), body.get("resource"),
                                          body.get("context"))
        return self._decide_one(req, loaded)

    def _decide_one(self, req: Request, loaded) -> tuple[dict, list]:
        engine = loaded.engine
        try:
            resp = engine.evaluate(req)
            code = resp.decision
        except Exception as exc:  # noqa: BLE001 - fail closed: any error inside a decision is a deny
            return _internal_deny(exc, loaded), [_record(req, Decision.ERROR, None, exc)]
        if code is Decision.ALLOW:
            ctx = allow_context(resp, self.explain)
            ctx["engine"] = loaded.revision
            return {"decision": True, "context": ctx}, [_record(req, code, resp)]
        ctx = deny_context(resp, code, self.explain)
        ctx["engine"] = loaded.revision
        return {"decision": False, "context": ctx}, [_record(req, code, resp)]

    def evaluations(self, body: Any, loaded) -> tuple[dict, list]:
        """Access Evaluations: defaults, per-item overrides, semantics; results in request order."""
        body = _object(body)
        items = body.get("evaluations")
        if items is None or (isinstance(items, list) and not items):
            return self.evaluation(body, loaded)
        if not isinstance(items, list):
            raise ServiceError("E_BAD_FIELD", "`evaluations` must be a list", "$.evaluations")
        if len(items) > self.max_batch:
            raise ServiceError("E_BATCH_TOO_LARGE", f"{len(items)} evaluations exceed the limit of {self.max_batch}",
                               "$.evaluations")
        semantic = self._semantic(body)
        return self._finish(semantic, *self._decide_many(body, items, loaded), loaded)

    def common_evaluations(self, batch, loaded) -> tuple[dict, list]:
        """:meth:`evaluations` of a body :func:`lexauthz.service.wire.common_batch` decoded (every item of the
        common shape): the same answer, with the items mapped by columns; any item the columns cannot map sends
        the whole body down the checking path."""
        if len(batch.evaluations) > self.max_batch or self.trust:
            return self.evaluations(batch.generic(), loaded)
        semantic = self._semantic(batch)
        mapped = self._map_common(batch, loaded)
        if mapped is None:
            return self.evaluations(batch.generic(), loaded)
        n = len(batch.evaluations)
        results: list = [None] * n
        records: list = [None] * n
        self._decide_rows(loaded, batch.evaluations, list(range(n)), *mapped, results, records)
        return self._finish(semantic, results, records, loaded)

    def _map_common(self, batch, loaded):
        """``(principals, actions, resources, contexts)`` of a common batch, or None when an item needs the
        checking path (a principal that is not an ARN, an empty name, a default context that is not an object,
        a principal the mapper refuses)."""
        mapper = self.mapper(loaded)
        principals, actions, resources = batch.columns()
        default_ctx = batch.context
        if not (all([p.startswith("arn:") for p in principals]) and all(actions) and all(resources)
                and (default_ctx is None or type(default_ctx) is dict)):
            return None
        shared = SharedContexts(mapper, default_ctx, mapper.clock(time.time()))
        try:
            if not mapper.has_inventory:
                # a context depends on the principal only: one look-up per distinct principal
                of = {p: shared.of_principal(p) for p in set(principals)}
                contexts = list(map(of.__getitem__, principals))
            else:
                contexts = [shared.of(p, r) for p, r in zip(principals, resources)]
        except ServiceError:
            return None  # the checking path names the item
        return principals, actions, resources, contexts

    @staticmethod
    def _semantic(body) -> str:
        semantic = "execute_all"
        options = body.get("options")
        if options is not None:
            if not isinstance(options, dict):
                raise ServiceError("E_BAD_FIELD", "`options` must be an object", "$.options")
            semantic = options.get("evaluations_semantic", "execute_all")
            if semantic not in SEMANTICS:
                raise ServiceError("E_BAD_OPTION", f"`evaluations_semantic` `{semantic}` is not one of "
                                   f"{', '.join(SEMANTICS)}", "$.options.evaluations_semantic")
        return semantic

    @staticmethod
    def _finish(semantic: str, results: list, records: list, loaded) -> tuple[dict, list]:
        if semantic == "deny_on_first_deny":
            for i, r in enumerate(results):
                if not r["decision"]:
                    results, records = results[:i + 1], records[:i + 1]
                    break
        elif semantic == "permit_on_first_permit":
            for i, r in enumerate(results):
                if r["decision"]:
                    results, records = results[:i + 1], records[:i + 1]
                    break
        return {"evaluations": results, "context": {"engine": loaded.revision}}, records

    def _decide_many(self, body: Mapping, items: list, loaded) -> tuple[list, list]:
        mapper = self.mapper(loaded)
        now = time.time()
        defaults = {k: body.get(k) for k in ("subject", "action", "resource", "context")}
        n = len(items)
        results: list = [None] * n
        records: list = [None] * n
        rows: list[int] = []
        principals: list[str] = []
        actions: list[str] = []
        resources: list[str] = []
        contexts: list = []
        cache: dict = {}
        seen: dict = {}
        filtered: dict = {}
        clock = mapper.clock(now)
        trust = mapper.trust
        # The common item, {"subject": {"type": "iam_principal", "id": ARN}, "action": {"name": ...}, "resource":
        # {"type": "lex_resource", "id": ...}} and nothing else, is mapped here with a few probes and its context
        # found by (principal, resource tags); every other item (and any that fails here) takes the checking path
        # below, which gives the same answer for this shape.
        shared = SharedContexts(mapper, defaults["context"], clock)
        fast: list = []  # (row, principal, action, resource, context) of the items mapped here
        add = fast.append
        for i, item in enumerate(items):
            if not trust:
                try:
                    s_, a_, r_ = item["subject"], item["action"], item["resource"]
                    if (s_["type"] == "iam_principal" and r_["type"] == "lex_resource" and type(item) is dict
                            and len(item) == 3 and type(s_) is dict and len(s_) == 2 and type(a_) is dict
                            and len(a_) == 1 and type(r_) is dict and len(r_) == 2):
                        principal, act, res = s_["id"], a_["name"], r_["id"]
                    else:
                        principal = None
                except (KeyError, TypeError, IndexError):
                    principal = None
                if (type(principal) is str and type(act) is str and type(res) is str and act and res
                        and principal.startswith("arn:")):
                    try:
                        ctx = shared.of(principal, res, i)
                    except ServiceError:
                        pass  # the checking path below gives the error
                    else:
                        add((i, principal, act, res, ctx))
                        continue
            path = f"$.evaluations[{i}]"
            try:
                if not isinstance(item, dict):
                    raise ServiceError("E_BAD_FIELD", "an evaluation must be an object", path)
                subject = item["subject"] if "subject" in item else defaults["subject"]
                action = item["action"] if "action" in item else defaults["action"]
                resource = item["resource"] if "resource" in item else defaults["resource"]
                context = item["context"] if "context" in item else defaults["context"]
                # entities are mapped once per JSON object: items that share the defaults share the work
                principal = seen.get(id(subject))
                if principal is None:
                    # the common well-formed shapes first; anything else takes the checking path (and its error)
                    if (type(subject) is dict and subject.get("type") == "iam_principal"
                            and type(principal := subject.get("id")) is str and principal.startswith("arn:")):
                        seen[id(subject)] = principal
                    else:
                        principal = seen[id(subject)] = mapper.principal(
                            subject, f"{path}.subject" if "subject" in item else "$.subject")
                act = seen.get(id(action))
                if act is None:
                    if not (type(action) is dict and type(act := action.get("name")) is str and act):
                        act = mapper.action(action, f"{path}.action" if "action" in item else "$.action")
                    seen[id(action)] = act
                res = seen.get(id(resource))
                if res is None:
                    if not (type(resource) is dict and resource.get("type") == "lex_resource"
                            and type(res := resource.get("id")) is str and res):
                        res = mapper.resource(resource, f"{path}.resource" if "resource" in item else "$.resource")
                    seen[id(resource)] = res
                props = action.get("properties")
                if props is None and not trust:
                    key = (principal, id(mapper.resource_tags(res)), id(context))
                    ctx = cache.get(key)
                    if ctx is None:
                        ctx = cache[key] = mapper.plain_context(principal, res, context, path, clock, filtered)
                else:
                    key = (principal, res, id(context), id(action), id(subject), id(resource))
                    ctx = cache.get(key)
                    if ctx is None:
                        ctx = cache[key] = mapper.context(principal, subject, resource, action, context, path, now,
                                                          res)
            except ServiceError as exc:
                results[i] = {"decision": False, "context": {"reason": "error", "error": exc.to_dict()}}
                records[i] = _error_record(item, exc)
                continue
            rows.append(i)
            principals.append(principal)
            actions.append(act)
            resources.append(res)
            contexts.append(ctx)
        if fast:
            if rows:  # both paths mapped items: merge them in row order
                merged = sorted(fast + list(zip(rows, principals, actions, resources, contexts)),
                                key=lambda t: t[0])
            else:
                merged = fast
            rows, principals, actions, resources, contexts = map(list, zip(*merged))
        self._decide_rows(loaded, items, rows, principals, actions, resources, contexts, results, records)
        return results, records

    def _decide_rows(self, loaded, items, rows, principals, actions, resources, contexts, results, records):
        """Decide the mapped rows (``results[rows[k]]`` for column row ``k``) chunk by chunk, within the time
        limit; rows past it get E_TIME_LIMIT."""
        engine = loaded.engine
        deadline = time.perf_counter() + self.decision_seconds
        explanations = _Explanations(engine, loaded, self.explain)
        for start in range(0, len(rows), _CHUNK):
            stop = min(len(rows), start + _CHUNK)
            if start and time.perf_counter() > deadline:
                exc = ServiceError("E_TIME_LIMIT", f"the decision time limit of {self.decision_seconds} s was "
                                   "reached before this evaluation", "$.evaluations", 503)
                for j in rows[start:]:
                    results[j] = {"decision": False, "context": {"reason": "error", "error": exc.to_dict()}}
                    records[j] = _error_record(items[j], exc)
                break
            self._decide_chunk(engine, loaded, rows[start:stop], principals[start:stop], actions[start:stop],
                               resources[start:stop], contexts[start:stop], results, records, explanations)

    def _decide_chunk(self, engine, loaded, rows, principals, actions, resources, contexts, results, records,
                      explanations: "_Explanations"):
        try:
            codes = engine.evaluate_batch(principals, actions, resources, contexts).tolist()
        except RequestError:
            codes = None
        except Exception as exc:  # noqa: BLE001 - fail closed
            for k, j in enumerate(rows):
                results[j] = _internal_deny(exc, loaded)
                records[j] = _record_cols(principals[k], actions[k], resources[k], contexts[k], Decision.ERROR,
                                          None, exc)
            return
        if codes is None:
            # a row the engine refuses: find it (and any other) row by row, decide the rest
            good = []
            for k, j in enumerate(rows):
                try:
                    Request(principals[k], actions[k], resources[k], context=contexts[k])
                except RequestError as exc:
                    err = ServiceError(exc.code, exc.message, f"$.evaluations[{j}]{exc.path[1:]}")
                    results[j] = {"decision": False, "context": {"reason": "error", "error": err.to_dict()}}
                    records[j] = _record_cols(principals[k], actions[k], resources[k], contexts[k], Decision.ERROR,
                                              None, err)
                    continue
                good.append(k)
            if len(good) == len(rows):
                # the batch refused a row that a Request accepts: decide row by row, each failure a deny
                for k, j in enumerate(rows):
                    try:
                        req = Request(principals[k], actions[k], resources[k], context=contexts[k])
                        answer, recs = self._decide_one(req, loaded)
                    except Exception as exc:  # noqa: BLE001 - fail closed
                        answer, recs = _internal_deny(exc, loaded), [None]
                    answer.get("context", {}).pop("engine", None)
                    results[j] = answer
                    records[j] = recs[0] or _record_cols(principals[k], actions[k], resources[k], contexts[k],
                                                         Decision.ERROR)
                return
            if good:
                self._decide_chunk(engine, loaded, [rows[k] for k in good], [principals[k] for k in good],
                                   [actions[k] for k in good], [resources[k] for k in good],
                                   [contexts[k] for k in good], results, records, explanations)
            return
        explain = self.explain
        need = []  # rows whose answer names why: every deny when explaining, and every ERROR
        k = -1
        for j, code, p, a, r in zip(rows, codes, principals, actions, resources):
            k += 1
            if code == _ALLOW:
                # NOTE: batch allows carry no explanation (as AuthZEN's `{"decision": true}`)
                results[j] = _ALLOWED
                records[j] = ((p, a, r), "allowed", None, None)
            elif not explain and code != _ERROR:
                results[j] = _IMPLICIT_DENIED if code == 0 else _EXPLICIT_DENIED
                records[j] = ((p, a, r), _WORDS[code], None, None)
            else:
                need.append(k)
        if need:
            for k, answer in zip(need, explanations.answers(codes, need, principals, actions, resources, contexts)):
                results[rows[k]], records[rows[k]] = answer

    # -- search -----------------------------------------------------------------------------------------------

    def search(self, kind: str, body: Any, loaded) -> dict:
        """Subject, resource or action search (``kind``), paged, backed by who-can / what-can."""
        body = _object(body)
        if loaded.account is None:
            raise ServiceError("E_SEARCH_UNAVAILABLE", "search needs the account (serve with --account); a saved "
                               "engine file has no inventory to search", "$", 501)
        mapper = self.mapper(loaded)
        page = body.get("page")
        if page is not None and not isinstance(page, dict):
            raise ServiceError("E_BAD_FIELD", "`page` must be an object", "$.page")
        page = page or {}
        limit = page.get("limit", 100)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ServiceError("E_BAD_FIELD", "`page.limit` must be a positive integer", "$.page.limit")
        limit = min(limit, self.max_page)
        token = page.get("token")
        if token is not None and not isinstance(token, str):
            raise ServiceError("E_BAD_FIELD", "`page.token` must be a string", "$.page.token")
        context = body.get("context")
        if context is not None and not isinstance(context, dict):
            raise ServiceError("E_BAD_CONTEXT", "`context` must be an object", "$.context")
        ctx = {k: v for k, v in (context or {}).items() if mapper.trust or not _derived(k)}
        if kind == "subject":
            subject = body.get("subject")
            if subject is None:
                raise ServiceError("E_MISSING_SUBJECT", "the request has no `subject`", "$.subject")
            if not isinstance(subject, dict):
                raise ServiceError("E_BAD_SUBJECT", "`subject` must be an object", "$.subject")
            stype = subject.get("type")
            if not isinstance(stype, str) or not stype:
                raise ServiceError("E_MISSING_FIELD", "`subject` has no `type`", "$.subject.type")
            if stype not in SUBJECT_TYPES:
                raise ServiceError("E_UNSUPPORTED_TYPE", f"subject type `{stype}` is not one of "
                                   f"{', '.join(SUBJECT_TYPES)}", "$.subject.type")
            action = mapper.action(body.get("action"))
            resource = mapper.resource(body.get("resource"))
            key_parts = ("subject", stype, action, resource)
        elif kind == "resource":
            principal = mapper.principal(body.get("subject"))
            action = mapper.action(body.get("action"))
            res = body.get("resource")
            if res is None:
                raise ServiceError("E_MISSING_RESOURCE", "the request has no `resource`", "$.resource")
            if not isinstance(res, dict):
                raise ServiceError("E_BAD_RESOURCE", "`resource` must be an object", "$.resource")
            rtype = res.get("type")
            if not isinstance(rtype, str) or not rtype:
                raise ServiceError("E_MISSING_FIELD", "`resource` has no `type`", "$.resource.type")
            if rtype not in RESOURCE_TYPES:
                raise ServiceError("E_UNSUPPORTED_TYPE", f"resource type `{rtype}` is not one of "
                                   f"{', '.join(RESOURCE_TYPES)}", "$.resource.type")
            key_parts = ("resource", principal, action)
        elif kind == "action":
            principal = mapper.principal(body.get("subject"))
            resource = mapper.resource(body.get("resource"))
            key_parts = ("action", principal, resource)
        else:  # pragma: no cover - the router only passes the three kinds
            raise ServiceError("E_NOT_FOUND", f"no search `{kind}`", "$", 404)
        import orjson

        fp = hashlib.sha256(orjson.dumps([list(key_parts), ctx, loaded.revision], option=orjson.OPT_SORT_KEYS,
                                         default=str)).hexdigest()[:24]
        offset = _read_token(token, fp) if token else 0
        try:
            results = self._search_results(fp, kind, key_parts, ctx, loaded)
        except RequestError as exc:
            raise ServiceError(exc.code, exc.message, exc.path) from None
        chunk = results[offset:offset + limit]
        nxt = offset + len(chunk)
        next_token = _make_token(nxt, fp) if nxt < len(results) else ""
        return {"page": {"next_token": next_token, "count": len(chunk), "total": len(results)},
                "context": {"engine": loaded.revision}, "results": chunk}

    def _search_results(self, fp: str, kind: str, key_parts: tuple, ctx: dict, loaded) -> list:
        with self._pages_lock:
            hit = self._pages.get(fp)
            if hit is not None:
                self._pages.move_to_end(fp)
                return hit
        from .. import analysis

        account = loaded.account
        mapper = self.mapper(loaded)

        def with_tags(resource_arn):
            # NOTE: the inventory's resource tags go in explicitly (stored tags win, as in evaluation), since the
            # account's policy set does not hold the Lex inventory's tags
            tags = mapper.resource_tags(resource_arn)
            merged = {k: v for k, v in ctx.items() if k.lower() not in {t.lower() for t in tags}}
            merged.update(tags)
            return merged or None

        if kind == "subject":
            _, stype, action, resource = key_parts
            found = analysis.who_can(account, resource, [action], context=with_tags(resource))
            out, seen = [], set()
            for a in found:
                if not a.decision == Decision.ALLOW:
                    continue
                subj = _subject_of(a.principal, stype)
                if subj is not None and subj["id"] not in seen:
                    seen.add(subj["id"])
                    out.append(subj)
        elif kind == "resource":
            _, principal, action = key_parts
            groups: dict = {}
            for res in account.resources:
                arn = str(res.arn)
                key = tuple(sorted(mapper.resource_tags(arn).items()))
                groups.setdefault(key, []).append(arn)
            found = []
            if groups:
                for tags, arns in groups.items():
                    found.extend(analysis.what_can(account, principal, [action], arns, context=with_tags(arns[0])))
            else:
                found = analysis.what_can(account, principal, [action], context=ctx or None)
            out, seen = [], set()
            for a in sorted(found, key=lambda a: a.resource):
                if a.decision == Decision.ALLOW and a.resource not in seen:
                    seen.add(a.resource)
                    out.append({"type": "lex_resource", "id": a.resource})
        else:
            _, principal, resource = key_parts
            found = analysis.what_can(account, principal, None, [resource], context=with_tags(resource))
            out, seen = [], set()
            for a in found:
                if a.decision == Decision.ALLOW and a.action not in seen:
                    seen.add(a.action)
                    out.append({"name": a.action})
        with self._pages_lock:
            self._pages[fp] = out
            while len(self._pages) > 64:
                self._pages.popitem(last=False)
        return out


class _Explanations:
    """The explained answers of one batch's denied (and refused) rows.

    The rows of a chunk that need an explanation are explained together by :meth:`Engine.explain_batch`, which
    gives rows with the same answer one Response; rows with one Response share one result (never mutated: orjson
    writes it out).  The entries hold their Responses, so an id is never reused while it keys an entry.
    """

    __slots__ = ("engine", "loaded", "explain", "_by_response")

    def __init__(self, engine, loaded, explain: bool):
        self.engine = engine
        self.loaded = loaded
        self.explain = explain
        # (id(Response), the batch's decision) -> (Response, result, the decision answered)
        self._by_response: dict = {}

    def answers(self, codes, ks, principals, actions, resources, contexts) -> list:
        """``(result, record)`` of each row ``k`` in ``ks`` that the batch decided ``codes[k]``: the full
        explanation, the stricter of the two answers when they disagree; a failure inside the explanation is a
        deny."""
        cols = ([principals[k] for k in ks], [actions[k] for k in ks], [resources[k] for k in ks],
                [contexts[k] for k in ks])
        try:
            resps = self.engine.explain_batch(*cols)
        except Exception:  # noqa: BLE001 - find the failing row: each is explained alone, a failure denies it
            resps = []
            for i in range(len(ks)):
                try:
                    resps.append(self.engine.explain_batch(*([c[i]] for c in cols))[0])
                except Exception as exc:  # noqa: BLE001 - fail closed
                    resps.append(exc)
        out = []
        add = out.append
        by_response = self._by_response
        for k, p, a, r, resp in zip(ks, cols[0], cols[1], cols[2], resps):
            code = codes[k]
            shared = by_response.get((id(resp), code))
            if shared is None:
                if isinstance(resp, Exception):
                    add((_internal_deny(resp, self.loaded), _record_cols(p, a, r, contexts[k], Decision.ERROR, None,
                                                                         resp)))
                    continue
                if resp.decision != code:  # the two paths disagree: the stricter answer stands
                    other = int(resp.decision)
                    code = _ERROR if _ERROR in (code, other) else min((code, other), key=_rank)
                decision = _DECISIONS[code]
                result = ({"decision": True} if decision is Decision.ALLOW else
                          {"decision": False, "context": deny_context(resp, decision, self.explain)})
                # keyed by the batch's code: a Response the batch agreed with is found here next time
                shared = by_response[(id(resp), codes[k])] = (resp, result, code)
            # the record as _record_cols makes it (formatted by the decision log's thread)
            add((shared[1], ((p, a, r), _WORDS[shared[2]], resp, None)))
        return out


def _rank(code: int) -> int:
    # stricter first: explicit deny, implicit deny, allow
    return {_EXPLICIT: 0, 0: 1, _ALLOW: 2}.get(code, 0)


def _derived(key: str) -> bool:
    from .mapping import is_derived_key

    return is_derived_key(key)


def _subject_of(principal: str, stype: str) -> dict | None:
    if principal == "*":
        return None
    if stype == "aws_service":
        return None if principal.startswith("arn:") else {"type": "aws_service", "id": principal}
    if not principal.startswith("arn:"):
        return None
    if stype == "aws_account":
        parts = principal.split(":", 5)
        if len(parts) == 6 and parts[2] == "iam" and parts[5] == "root":
            return {"type": "aws_account", "id": parts[4]}
        return None
    return {"type": "iam_principal", "id": principal}


def _make_token(offset: int, fp: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{fp}".encode()).decode().rstrip("=")


def _read_token(token: str, fp: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        off, tfp = raw.split(":", 1)
        offset = int(off)
    except (ValueError, UnicodeDecodeError):
        raise ServiceError("E_BAD_PAGE_TOKEN", "`page.token` is not a token this service gave", "$.page.token") \
            from None
    if tfp != fp or offset < 0:
        raise ServiceError("E_BAD_PAGE_TOKEN", "`page.token` belongs to another search (the request or the engine "
                           "changed since the first page)", "$.page.token")
    return offset


def _internal_deny(exc: BaseException, loaded) -> dict:
    return {"decision": False, "context": {"reason": "error", "engine": loaded.revision, "error": {
        "status": 500, "code": "E_INTERNAL", "message": f"the decision failed: {type(exc).__name__}: {exc}"}}}


def _refs(resp) -> list:
    return [] if resp is None else [m.to_dict() for m in resp.matched_statements]


def _record(req: Request, code: Decision, resp, exc: BaseException | None = None):
    return ((req.principal, req.action, req.resource), code.simulator_name, resp, exc)


def _record_cols(principal, action, resource, context, code: Decision, resp=None, exc=None):
    # formatted by the decision log's thread (see DecisionLog): nothing is built here on the request's time
    return ((principal, action, resource), code.simulator_name, resp, exc)


def _error_record(item: Any, exc: ServiceError):
    req = {}
    if isinstance(item, dict):
        for k in ("subject", "action", "resource"):
            v = item.get(k)
            if isinstance(v, dict):
                req[k] = v.get("id") if k != "action" else v.get("name")
    return (req, "error", [], [{"code": exc.code, "message": exc.message, "path": exc.path}])

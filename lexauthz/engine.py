"""The compiled engine: prepare once, evaluate many.

:class:`Engine` is built by :meth:`PolicySet.compile` (principals, resources, SCPs) or by :func:`compile_applicable`
(one fixed bundle of policies, as a corpus case gives it).  It is immutable, thread-safe and picklable, and it answers
exactly what :func:`lexauthz.reference.evaluate` answers: the same :class:`~lexauthz.decision.Response`.

>>> import lexauthz as lx
>>> ps = lx.PolicySet()
>>> ps.add_principal("arn:aws:iam::123456789012:user/bob", policies=[{"Version": "2012-10-17", "Statement": [
...     {"Effect": "Allow", "Action": "lex:Recognize*", "Resource": "arn:aws:lex:*:123456789012:bot-alias/*"}]}])
>>> engine = ps.compile()
>>> engine.is_allowed("arn:aws:iam::123456789012:user/bob", "lex:RecognizeText",
...                   "arn:aws:lex:us-east-1:123456789012:bot-alias/BOT/ALIAS")
True
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
import weakref
from collections.abc import Sequence

import numpy as np

from .compile import serialize
from ._kernel import CallerKind
from .compile.build import Compiled, FixedResolver, build, build_applicable, collector_paused, core_module
from .compile.directory import Directory
from .compile.plan import TYPE_NAMES, Layout
from .compile.verify import check_saved_index
from .decision import Decision, PolicyType, Response, StatementRef
from .errors import CompileError, Finding, PlanFormatError, RequestError, Severity
from .policy.applicable import ApplicablePolicies
from .request import MAX_ACTION_LENGTH, MAX_ARN_LENGTH, Request, check_length

__all__ = ["Engine", "EncodedBatch", "compile_applicable", "compile_policy_set", "evaluate_applicable", "MAX_BATCH"]

#: The most requests one :meth:`Engine.evaluate_batch` call takes.
MAX_BATCH = 1 << 26
# Requests per encode/prepare call inside a string batch: bounds the per-call id maps and tables.
_CHUNK = 65536

_ALLOWED, _IMPLICIT, _EXPLICIT = "Allowed", "ImplicitlyDenied", "ExplicitlyDenied"
_ERROR_CODE = int(Decision.ERROR)
_DECISIONS = tuple(Decision(c) for c in range(4))


def _engine_of(compiled: Compiled) -> "Engine":
    return Engine._new(compiled.core, compiled.resolver, compiled.source, compiled.seconds)


def compile_policy_set(policy_set, *, use_index: bool = True) -> "Engine":
    """An :class:`Engine` for a :class:`~lexauthz.account.PolicySet` (what :meth:`PolicySet.compile` returns)."""
    return _engine_of(build(policy_set, use_index=use_index))


def compile_applicable(applicable: ApplicablePolicies, *, use_index: bool = True) -> "Engine":
    """An :class:`Engine` for one fixed bundle of policies (the corpus case form): every request is evaluated
    against ``applicable``, as :func:`lexauthz.reference.evaluate(request, applicable)` does."""
    return _engine_of(build_applicable(applicable, use_index=use_index))


_APPLICABLE_CACHE: dict = {}
_APPLICABLE_LOCK = threading.Lock()


def evaluate_applicable(request: Request, applicable: ApplicablePolicies) -> Response:
    """``compile_applicable(applicable).evaluate(request)``, compiling each distinct bundle once per process."""
    try:
        engine = _APPLICABLE_CACHE.get(applicable)
    except TypeError:
        engine = None
    if engine is None:
        engine = compile_applicable(applicable)
        with _APPLICABLE_LOCK:
            if len(_APPLICABLE_CACHE) > 4096:
                _APPLICABLE_CACHE.clear()
            try:
                _APPLICABLE_CACHE[applicable] = engine
            except TypeError:
                pass
    return engine.evaluate(request)


# =================================================================================================================
# Request checks (the same rules as lexauthz.request.Request, applied to batch columns before the loop)
# =================================================================================================================


def _check_principal(p, i):
    if not isinstance(p, str) or not p:
        raise RequestError("E_BAD_PRINCIPAL", "`principal` must be a non-empty string", f"$[{i}].principal")
    check_length(p, MAX_ARN_LENGTH, "principal", f"$[{i}].principal")


def _check_action(a, i):
    if not isinstance(a, str) or not a:
        raise RequestError("E_BAD_ACTION", "`action` must be a non-empty string", f"$[{i}].action")
    check_length(a, MAX_ACTION_LENGTH, "action", f"$[{i}].action")
    if a.count(":") != 1 or a.startswith(":") or a.endswith(":"):
        raise RequestError("E_BAD_ACTION", f"action `{a}` is not of the form `service:Action`", f"$[{i}].action")


def _check_resource(r, i):
    if not isinstance(r, str) or not r:
        raise RequestError("E_BAD_RESOURCE", "`resource` must be a non-empty string", f"$[{i}].resource")
    check_length(r, MAX_ARN_LENGTH, "resource", f"$[{i}].resource")
    if r != "*" and (not r.startswith("arn:") or r.count(":") < 5):
        raise RequestError("E_BAD_RESOURCE", f"resource `{r}` is not an ARN or `*`", f"$[{i}].resource")


def _check_row(p, a, r):
    _check_principal(p, 0)
    _check_action(a, 0)
    _check_resource(r, 0)


def _check_row_at(p, a, r, i, which=7):
    """Check row ``i``'s strings: those ``which`` names (1 principal, 2 action, 4 resource; the core leaves out a
    string it has an entry for, since only a checked string gets one)."""
    if which & 1:
        _check_principal(p, i)
    if which & 2:
        _check_action(a, i)
    if which & 4:
        _check_resource(r, i)


def _check_rows(principals, actions, resources):
    """Check every row; each distinct value once, and row by row (for the first bad row's index) only on a failure."""
    try:
        for p in set(principals):
            _check_principal(p, 0)
        for a in set(actions):
            _check_action(a, 0)
        for r in set(resources):
            _check_resource(r, 0)
        return
    except (RequestError, TypeError):
        pass
    for i in range(len(principals)):
        _check_principal(principals[i], i)
        _check_action(actions[i], i)
        _check_resource(resources[i], i)


def _column(name, values, n=None):
    """A batch column as a sequence of ``n`` rows (a list for anything but a list or tuple).

    A single ``str`` or bytes-like value is refused rather than split into rows.  Rows may be ``str`` subclasses
    (``numpy.str_``, from ``list(ndarray)``): the core copies such a string to an exact ``str`` when it first makes
    its entry, so a column is never scanned for them here.
    """
    if values is None:
        return None
    if isinstance(values, (str, bytes, bytearray, memoryview)):
        raise RequestError("E_BAD_BATCH", f"`{name}` must be a sequence of strings, not a single "
                           f"`{type(values).__name__}`", f"$.{name}")
    if isinstance(values, np.ndarray):
        values = values.tolist()
        if not isinstance(values, list):  # a 0-d array: one value, not a column
            raise RequestError("E_BAD_BATCH", f"`{name}` must be a one-dimensional sequence", f"$.{name}")
    elif not isinstance(values, Sequence):
        try:
            values = list(values)
        except TypeError:
            raise RequestError("E_BAD_BATCH", f"`{name}` must be a sequence", f"$.{name}") from None
    if n is not None and len(values) != n:
        raise RequestError("E_BAD_BATCH", f"`{name}` has {len(values)} rows, expected {n}", f"$.{name}")
    return values


# =================================================================================================================
# The engine
# =================================================================================================================


class Engine:
    """A compiled policy set: immutable, safe to share across threads, picklable.

    Build one with :meth:`PolicySet.compile` or :func:`compile_applicable`, or read one with :meth:`load`.
    ``index_bytes`` is the size of the flattened index, ``compile_seconds`` the time compiling (or loading) took,
    ``revision`` a fingerprint of the saved form.
    """

    __slots__ = ("_core", "_resolver", "_source", "compile_seconds", "_revision", "_saved", "_facts", "_refs",
                 "_canon", "_shown", "_context_keys")

    def __init__(self, *args, **kwargs):
        raise TypeError("build an Engine with PolicySet.compile() or compile_applicable()")

    @classmethod
    def _new(cls, core, resolver, source, seconds):
        self = object.__new__(cls)
        self._core = core
        self._resolver = resolver
        self._source = source
        self.compile_seconds = seconds
        self._revision = None
        self._saved = None  # the saved form, made on first need (a loaded engine keeps the bytes it came from)
        # Explanation caches, filled on first need (see _responses); bounded by the statements, and each dict
        # operation is atomic, so threads share them.
        self._facts: dict = {}  # statement id -> (slot id, policy type, effect, SCP level)
        self._refs: dict = {}  # (statement id, principal_match label) -> (StatementRef, shape)
        self._canon: dict = {}  # StatementRef or shape -> the one equal object the others are replaced by
        self._shown: dict = {}  # frozenset of missing keys -> their display tuple
        self._context_keys = None
        core.bind(resolver, _check_row)
        return self

    # -- facts ----------------------------------------------------------------------------------------------------

    @property
    def index_bytes(self) -> int:
        """Bytes held by the flattened index (rows, id lists, per-statement arrays)."""
        return int(self._core.index_bytes)

    @property
    def n_statements(self) -> int:
        """Statements compiled (every slot of every policy)."""
        return int(self._core.n_stmts)

    @property
    def use_index(self) -> bool:
        """False for the brute-force twin (every condition evaluated, no cached rows)."""
        return bool(self._core.use_index)

    @property
    def revision(self) -> str:
        """A fingerprint of the compiled policies (SHA-256 of the saved form)."""
        if self._revision is None:
            self._revision = hashlib.sha256(self._dump()).hexdigest()[:16]
        return self._revision

    @property
    def context_keys(self) -> frozenset[str]:
        """The context keys this engine's policies can read, lower-cased: every condition key, and the key of
        every policy variable in a condition value, a Resource or a NotResource.  A request's other keys never
        change an answer (decision, matched statements or missing keys), so a caller may leave them out."""
        if self._context_keys is None:
            from ._match import _Template

            out: set = set()
            for info in self._core.plan.statements:
                st = info.statement
                for clause in st.condition:
                    out.add(clause.key.lower())
                    for v in clause.values:
                        if type(v) is str and "${" in v:
                            out.update(k.lower() for k in _Template(v, True).keys)
                for r in (*(st.resource or ()), *(st.not_resource or ())):
                    if "${" in r:
                        out.update(k.lower() for k in _Template(r, True).keys)
            self._context_keys = frozenset(out)
        return self._context_keys

    def __repr__(self) -> str:
        return (f"<Engine {self.n_statements} statements, index {self.index_bytes} bytes, "
                f"compiled in {self.compile_seconds * 1000:.1f} ms>")

    # -- evaluation -----------------------------------------------------------------------------------------------

    def evaluate(self, request: Request) -> Response:
        """Decide one request: the same :class:`Response` as the reference evaluator gives.

        Raises
        ------
        RequestError
            When ``request`` is not a :class:`Request`.
        """
        if not isinstance(request, Request):
            raise RequestError("E_BAD_REQUEST", "request must be a lexauthz Request", "$")
        acct = request.resource_account
        rows = self._core.explain_rows([request.principal], [request.action], [request.resource], [request.context],
                                       None if acct is None else [acct])
        return self._responses(rows)[0]

    def explain_batch(self, principals, actions=None, resources=None, contexts=None, *,
                      resource_accounts=None) -> list[Response]:
        """Decide and explain many requests given as columns: one :class:`Response` per row, equal to what
        :meth:`evaluate` gives for that row's :class:`Request`.

        The columns are those of :meth:`evaluate_batch`.  Rows with the same answer (decision, matched statements,
        policy results, blocking types and missing keys) share one Response object: Responses are immutable, and
        their ``policy_results`` must be read, never changed.  Each row costs a kernel walk and a few look-ups,
        so explaining a batch costs a small multiple of deciding it, not one :meth:`evaluate` per row.

        Raises
        ------
        RequestError
            For a malformed row (its index is in ``path``), mismatched column lengths, or more than
            :data:`MAX_BATCH` rows.
        """
        principals, actions, resources, contexts, accounts, n = self._columns(principals, actions, resources,
                                                                             contexts, resource_accounts, False)
        if accounts is not None:
            accounts = list(accounts)
        if contexts is not None:
            contexts = list(contexts)
        try:
            # the core checks a row when one of its strings has no entry yet (only a checked string gets one)
            rows = self._core.explain_rows(principals, actions, resources, contexts, accounts)
        except RequestError:
            _check_rows(principals, actions, resources)  # a bad string: raise with its row's index
            raise
        return self._responses(rows)

    def evaluate_policies(self, request: Request, applicable: ApplicablePolicies) -> Response:
        """Decide ``request`` against ``applicable`` instead of this engine's policies (the corpus case form).

        Each distinct ``applicable`` is compiled once per process (see :func:`evaluate_applicable`).
        """
        return evaluate_applicable(request, applicable)

    # is_allowed: see _CoreMethod below (the core's own method, so a call runs no Python frame of ours)

    def encode(self, principals, actions, resources, contexts=None, *, resource_accounts=None) -> "EncodedBatch":
        """Encode a batch once for this engine: an :class:`EncodedBatch` that :meth:`evaluate_batch` decides with
        the GIL released from start to end (the bulk form: encode once, decide many times or on many threads).

        The columns are checked as :meth:`evaluate_batch` checks them; condition results the index cannot decide
        are computed here, once per statement and distinct (context, resource).
        """
        principals, actions, resources, contexts, accounts, n = self._columns(principals, actions, resources,
                                                                             contexts, resource_accounts)
        if self._core.damage is not None:
            raise PlanFormatError(f"the engine's file is damaged, so it answers only ERROR: {self._core.damage}")
        args = self._core.encode_ids(self._resolver, principals, actions, resources, contexts, accounts, 0, n)
        return EncodedBatch(self, self._core.prepare(*args), n)

    def _columns(self, principals, actions, resources, contexts, resource_accounts, check=True):
        if principals is None or actions is None or resources is None:
            raise RequestError("E_BAD_BATCH", "`principals`, `actions` and `resources` are required", "$")
        principals = list(_column("principals", principals))
        n = len(principals)
        if n > MAX_BATCH:
            raise RequestError("E_BATCH_TOO_LARGE", f"batch of {n} rows exceeds the limit of {MAX_BATCH}", "$")
        actions = list(_column("actions", actions, n))
        resources = list(_column("resources", resources, n))
        contexts = _column("contexts", contexts, n)
        accounts = _column("resource_accounts", resource_accounts, n)
        # Every row is checked before any is decided: a bad row raises before the kernel runs.  The string batch
        # checks a row when one of its strings has no entry yet (only a checked string gets one), and fills `out`
        # with ERROR before it raises.
        if check or accounts is not None:
            _check_rows(principals, actions, resources)
        return principals, actions, resources, contexts, accounts, n

    def evaluate_batch(self, principals, actions=None, resources=None, contexts=None, *, resource_accounts=None,
                       out=None):
        """Decide many requests given as columns; a ``uint8`` array of :class:`Decision` codes.

        Strings are checked and interned before the loop; the decision runs with the GIL released, and one engine
        may serve many threads at once.  ``principals`` may instead be an :class:`EncodedBatch` from
        :meth:`encode` (then give no other column): the whole batch is decided without the GIL.

        Parameters
        ----------
        principals, actions, resources:
            Equal-length sequences of strings.
        contexts:
            ``None``, or a sequence of the same length of mappings (or ``None``) as :class:`Context` takes.
        resource_accounts:
            ``None``, or the account owning each resource (default: the ARN's account field).
        out:
            An optional writeable contiguous ``uint8`` array of the same length, filled and returned.

        Raises
        ------
        RequestError
            For a malformed row (its index is in ``path``), mismatched column lengths, or more than
            :data:`MAX_BATCH` rows.
        """
        if isinstance(principals, EncodedBatch):
            if actions is not None or resources is not None or contexts is not None or resource_accounts is not None:
                raise RequestError("E_BAD_BATCH", "an encoded batch takes no other column", "$")
            if principals.engine is not self:
                raise RequestError("E_BAD_BATCH", "the batch was encoded by another engine", "$")
            n = len(principals)
            out = self._out(out, n)
            try:
                self._core.run_prepared(principals._prepared, out)
            except BaseException:
                out[:] = Decision.ERROR
                raise
            return out
        principals, actions, resources, contexts, accounts, n = self._columns(principals, actions, resources,
                                                                             contexts, resource_accounts, False)
        given = out
        out = self._out(out, n)
        core = self._core
        if core.damage is not None:  # a damaged part of the engine's file was found: never answer from it
            out[:] = Decision.ERROR
            return out
        # A row is checked when the core first meets one of its strings, so rows before it may be decided by then:
        # a caller's `out` is put back as it was when a bad row raises (the batch is refused, not half decided).
        before = given.copy() if given is not None else None
        refused = []

        def check_all(principals, actions, resources):
            try:
                _check_rows(principals, actions, resources)
            except RequestError:
                refused.append(True)
                raise

        try:
            for start in range(0, n, _CHUNK):
                stop = min(n, start + _CHUNK)
                if accounts is None:
                    # `_columns` made the three lists, so nobody else holds them while the core reads them
                    core.decide_strings(self._resolver, principals, actions, resources, contexts, out[start:stop],
                                        start, stop, _check_row_at, check_all)
                else:
                    args = core.encode_ids(self._resolver, principals, actions, resources, contexts, accounts,
                                           start, stop)
                    core.prepare(*args, out=out[start:stop])
        except RequestError:
            # a bad row: the batch is refused as a whole (a bad context or account is found while deciding)
            out[:] = before if (refused and before is not None) else Decision.ERROR
            raise
        except BaseException:
            out[:] = Decision.ERROR  # never leave a stale or partial answer behind an exception
            raise
        return out

    @staticmethod
    def _out(out, n):
        if out is None:
            out = np.zeros(n, dtype=np.uint8)
        elif not (isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.ndim == 1 and out.shape[0] == n
                  and out.flags.c_contiguous and out.flags.writeable):
            raise RequestError("E_BAD_BATCH", f"`out` must be a writeable contiguous uint8 array of length {n}",
                               "$.out")
        return out

    # -- explanation ----------------------------------------------------------------------------------------------

    def _responses(self, rows: list) -> list[Response]:
        """The Responses of what :meth:`Core.explain_rows` found, one object per distinct answer."""
        out = []
        memo: dict = {}
        verdict_memo: dict = {}
        flags: dict = {}  # id(bundle) -> its flags; `rows` holds every bundle alive, so an id is never reused here
        refs = self._refs
        for code, bundle, matched, missing, same in rows:
            if code == _ERROR_CODE:
                out.append(self._refused(bundle))
                continue
            fk = flags.get(id(bundle))
            if fk is None:
                fk = flags[id(bundle)] = (bundle.has_resource, bundle.boundary_active, bundle.session_active,
                                          bundle.scps_active, bundle.n_levels, bundle.kind)
            if matched:
                if len(matched) > 1:
                    pos = bundle.slot_pos
                    facts = self._facts
                    matched.sort(key=lambda s: (pos.get((facts.get(s) or self._fact(s))[0], 1 << 30), s))
                found = []
                for s in matched:
                    fact = self._facts.get(s) or self._fact(s)
                    label = bundle.labels.get(s) if fact[1] == "resource" else None
                    found.append(refs.get((s, label)) or self._ref(s, fact, label))
                ids = tuple([id(f[0]) for f in found])  # canonical refs, kept alive by self._canon
            else:
                found = ()
                ids = ()
            if missing is None:
                shown = ()
            else:
                fm = frozenset(missing)
                shown = self._shown.get(fm)
                if shown is None:
                    if len(self._shown) > 4096:
                        self._shown.clear()
                    shown = self._shown[fm] = _display_keys(fm)
            key = (code, fk, same, ids, shown)
            resp = memo.get(key)
            if resp is None:
                # the verdicts depend on the matched statements' types, effects, levels and labels only
                vkey = (code, fk, same, tuple([id(f[1]) for f in found]))
                verdicts = verdict_memo.get(vkey)
                if verdicts is None:
                    verdicts = verdict_memo[vkey] = self._verdicts(bundle, Decision(code), [f[1] for f in found], same)
                resp = memo[key] = Response(decision=_DECISIONS[code], matched_statements=tuple([f[0] for f in found]),
                                            policy_results=dict(verdicts[0]), blocked_by=verdicts[1],
                                            missing_context_values=shown)
            out.append(resp)
        return out

    def _refused(self, bundle) -> Response:
        damage = self._core.damage
        if damage is not None:
            return Response(Decision.ERROR, errors=(Finding("E_PLAN_DAMAGED", Severity.ERROR, damage),))
        return Response(Decision.ERROR, errors=bundle.errors if bundle is not None else ())

    def _fact(self, s: int) -> tuple:
        plan = self._core.plan
        info = plan.statements[s]
        slot = plan.slots[info.slot]
        fact = self._facts[s] = (info.slot, slot.policy_type, info.statement.effect,
                                 slot.level if slot.policy_type == "scp" else None)
        return fact

    def _ref(self, s: int, fact: tuple, label) -> tuple:
        """``(StatementRef, shape)`` of statement ``s`` matched with ``label``: both the one object of their value,
        so equal refs and equal ``(policy type, effect, SCP level, label)`` shapes have one id."""
        info = self._core.plan.statements[s]
        st = info.statement
        ptype, effect, level = fact[1], fact[2], fact[3]
        ref = StatementRef(ptype, self._core.plan.slots[fact[0]].policy.name, st.index, st.sid, effect, level, label)
        shape = (ptype, effect, level, label)
        out = self._refs[(s, label)] = (self._canon.setdefault(ref, ref), self._canon.setdefault(shape, shape))
        return out

    def _verdicts(self, bundle, decision, shapes, same_account) -> tuple[dict, tuple]:
        """``(policy results, blocking types)`` of the matched statements' shapes in evaluation order."""
        by_type: dict = {"identity": [], "resource": [], "permissions_boundary": [], "session": [], "scp": []}
        levels_allow: set = set()
        levels_deny: set = set()
        for ptype, effect, level, label in shapes:
            by_type[ptype].append((effect, label))
            if ptype == "scp":
                (levels_allow if effect == "Allow" else levels_deny).add(level)

        def verdict(entries):
            if any(e != "Allow" for e, _ in entries):
                return _EXPLICIT
            return _ALLOWED if any(e == "Allow" for e, _ in entries) else _IMPLICIT

        results = {PolicyType.IDENTITY.value: verdict(by_type["identity"])}
        rp = by_type["resource"]
        if not bundle.has_resource:
            results[PolicyType.RESOURCE.value] = "NotApplicable"
        else:
            denies = [lab for e, lab in rp if e != "Allow"]
            allows = [lab for e, lab in rp if e == "Allow"]
            if denies:
                results["resource"] = ("DeniedForAccount" if all(l == "AccountLevelMatch" for l in denies)
                                       else _EXPLICIT)
            elif allows:
                results["resource"] = ("AllowedForAccount" if all(l == "AccountLevelMatch" for l in allows)
                                       else _ALLOWED)
            else:
                results["resource"] = _IMPLICIT
        if bundle.boundary_active:
            results[PolicyType.PERMISSIONS_BOUNDARY.value] = verdict(by_type["permissions_boundary"])
        if bundle.session_active:
            results[PolicyType.SESSION.value] = verdict(by_type["session"])
        n_levels = bundle.n_levels
        if bundle.scps_active:
            if levels_deny:
                results[PolicyType.SCP.value] = _EXPLICIT
            elif all(lv in levels_allow for lv in range(n_levels)):
                results[PolicyType.SCP.value] = _ALLOWED
            else:
                results[PolicyType.SCP.value] = _IMPLICIT

        blocked: tuple = ()
        if decision is not Decision.ALLOW:
            kind = bundle.kind
            id_allowed = any(e == "Allow" for e, _ in by_type["identity"])
            id_denied = any(e != "Allow" for e, _ in by_type["identity"])
            grants = any(e == "Allow" for e, _ in rp)
            if id_allowed or grants:
                out = []
                if bundle.scps_active and n_levels and (
                        levels_deny or not all(lv in levels_allow for lv in range(n_levels))):
                    out.append("scp")
                if bundle.boundary_active and results[PolicyType.PERMISSIONS_BOUNDARY.value] != _ALLOWED:
                    out.append("pb")
                if bundle.session_active and results[PolicyType.SESSION.value] != _ALLOWED:
                    out.append("session")
                if id_denied or (not same_account and not id_allowed
                                 and kind not in (CallerKind.ROOT, CallerKind.SERVICE)):
                    out.append("identity")
                if any(e != "Allow" for e, _ in rp) or (not same_account and not grants):
                    out.append("resource")
                blocked = tuple(out)
        return results, blocked

    # -- persistence ----------------------------------------------------------------------------------------------

    def _dump(self) -> bytes:
        if self._saved is None:
            kind, src = self._source
            if kind == "policy_set":
                data, columns = src.to_columns()
                source = {"directory": data}
            else:
                source, columns = {"layout": _layout_to(src)}, None
            self._saved = serialize.pack(kind, self._core.state, self._core.plan.slots, source, columns)
        return self._saved

    def to_bytes(self, *, key: bytes | None = None) -> bytes:
        """The engine in the saved-plan format (:mod:`lexauthz.compile.serialize`); with ``key``, sealed with an
        HMAC-SHA256 under it, so that a load holding the key authenticates the file instead of recompiling it."""
        data = self._dump()
        return data if key is None else serialize.seal(data, key)

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bytes: int | None = None, key: bytes | None = None,
                   verify: bool | None = None) -> "Engine":
        """An engine from :meth:`to_bytes` output: the index is read as saved, and policies are decoded when a
        request first needs them.

        A file's checksum finds corruption, not edits, so by default a load also proves that the saved index is what
        its own policy text compiles to (:func:`lexauthz.compile.verify.check_saved_index`; it costs about one
        compile of the saved policies), and an engine never answers from arrays its text does not give.  With
        ``key``, the file must carry a valid seal under that key (:meth:`to_bytes` with ``key``), which
        authenticates it; the recompile is then skipped.  ``verify=True`` recompiles even then, ``verify=False``
        never (a trusted file: a damaged part found when first read makes every later answer ERROR).

        ``max_bytes`` bounds what the file may decompress to (meta, arrays and, when first needed, the policies);
        by default 64 times the file plus 16 MiB, never more than its compressed bytes can hold (see
        :mod:`lexauthz.compile.serialize`).

        Raises
        ------
        PlanFormatError
            When ``data`` is not a plan of this format version, or is truncated, corrupt, inconsistent, disagrees
            with its own policy text, is not sealed under ``key``, or would decompress to more than ``max_bytes``.
        """
        t0 = time.perf_counter()
        if verify is not None and not isinstance(verify, bool):
            raise PlanFormatError(f"verify must be True, False or None, not `{verify!r}`")
        data, authenticated = serialize.unseal(data, key)
        check = (not authenticated) if verify is None else verify
        with collector_paused():
            return cls._from_bytes(data, t0, max_bytes, check, authenticated)

    @classmethod
    def _from_bytes(cls, data, t0: float, max_bytes: int | None = None, check: bool = True,
                    authenticated: bool = False) -> "Engine":
        saved = serialize.unpack(data, max_bytes=max_bytes, authenticated=authenticated)
        plan, meta = saved.plan, saved.meta
        codes, levels = plan.slot_codes, plan.slot_levels
        try:
            if check:
                check_saved_index(plan, saved.state)
            if saved.kind == "policy_set":
                source = resolver = Directory.from_columns(meta["directory"], saved.columns, codes, levels)
            else:
                source = _layout_from(meta["layout"], [TYPE_NAMES[c] for c in codes.tolist()],
                                      [None if lv < 0 else lv for lv in levels.tolist()])
                resolver = FixedResolver(source)
            core = core_module().Core(plan, saved.state)
        except PlanFormatError:
            raise
        except MemoryError:
            raise
        except Exception as exc:  # CompileError, KeyError, OverflowError (an id past int64), ...: never uncoded
            raise PlanFormatError(f"plan payload is malformed: {type(exc).__name__}: {exc}") from None
        plan.on_damage = weakref.WeakMethod(core.poison)  # weak: the core holds the plan
        engine = Engine._new(core, resolver, (saved.kind, source), time.perf_counter() - t0)
        engine._saved = bytes(data)
        return engine

    def save(self, path, *, key: bytes | None = None) -> None:
        """Write the engine to ``path`` (versioned, checksummed, sealed under ``key`` when given; see
        :meth:`to_bytes`)."""
        data = self.to_bytes(key=key)
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path, *, max_bytes: int | None = None, key: bytes | None = None,
             verify: bool | None = None) -> "Engine":
        """Read an engine written by :meth:`save`; :class:`PlanFormatError` for anything else (``max_bytes``,
        ``key``, ``verify``: as :meth:`from_bytes`)."""
        with open(path, "rb") as f:
            data = f.read()
        return cls.from_bytes(data, max_bytes=max_bytes, key=key, verify=verify)

    def __reduce__(self):
        return (_rebuild, (self._dump(), serialize.FORMAT_VERSION))


def _is_allowed(self, principal_arn: str, action: str, resource_arn: str = "*", context=None) -> bool:
    """Whether the request is allowed: the same answer as ``evaluate_batch`` of one row, without building arrays.

    Raises
    ------
    RequestError
        For a malformed principal, action, resource or context (as :meth:`Engine.evaluate_batch`).
    """
    return self._core.is_allowed(principal_arn, action, resource_arn, context)


_is_allowed.__name__ = _is_allowed.__qualname__ = "is_allowed"
try:
    # ``engine.is_allowed`` is the core's own compiled method: a call from Python runs no Python frame of ours.
    # ``Engine.is_allowed`` (on the class) is the function above, with the signature and docs.
    Engine.is_allowed = core_module().CoreMethod("is_allowed", _is_allowed)
except CompileError:  # pragma: no cover - only without a compiler; any use then raises CompileError
    Engine.is_allowed = _is_allowed


class EncodedBatch:
    """Requests encoded once by :meth:`Engine.encode`: id columns into the engine's tables, and the condition results
    the index could not decide.  Decide it with ``engine.evaluate_batch(batch)``; it belongs to that engine only."""

    __slots__ = ("engine", "_prepared", "_n")

    def __init__(self, engine: Engine, prepared, n: int):
        self.engine = engine
        self._prepared = prepared
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"<EncodedBatch {self._n} requests>"


def _rebuild(data: bytes, version: int) -> Engine:
    """Unpickle an :class:`Engine` (``Engine.__reduce__``)."""
    if version != serialize.FORMAT_VERSION:
        raise PlanFormatError(f"plan format version `{version}` is not supported")
    # Unpickling runs whatever the pickle says, so a pickle is trusted by whoever loads it: the index is not
    # recompiled (the checksum still applies, and a damaged part found later makes every answer ERROR).
    return Engine.from_bytes(data, verify=False)


def _layout_to(layout: Layout) -> list:
    return [list(layout.identity), layout.resource, layout.permissions_boundary, layout.session,
            None if layout.scps is None else [list(lv) for lv in layout.scps]]


def _layout_from(d, types: list, levels: list) -> Layout:
    """A :class:`Layout` from saved data, each slot checked to be of its policy type (and SCP level)."""
    def slot(v, ptype, level=None):
        if v is None and ptype != "identity" and ptype != "scp":
            return None
        if type(v) is not int or not 0 <= v < len(types) or types[v] != ptype or (ptype == "scp" and
                                                                                  levels[v] != level):
            raise PlanFormatError(f"plan layout names slot `{v}`, which is not a {ptype} slot")
        return v

    identity, resource, boundary, session, scps = d
    return Layout(tuple(slot(v, "identity") for v in identity), slot(resource, "resource"),
                  slot(boundary, "permissions_boundary"), slot(session, "session"),
                  None if scps is None else tuple(tuple(slot(v, "scp", i) for v in lv) for i, lv in enumerate(scps)))


def _display_keys(keys) -> tuple[str, ...]:
    """Missing context keys for display: one spelling per key (case-insensitively), sorted."""
    first: dict = {}
    for k in sorted(keys):
        if k.lower() not in first:
            first[k.lower()] = k
    return tuple(sorted(first.values(), key=str.lower))

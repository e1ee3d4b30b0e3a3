# Types of the compiled module lexauthz.compile._records (lexauthz/compile/_records.pyx).
from typing import Any

class StatementInfo:
    """What the engine keeps of one statement besides the index rows (immutable, not tracked by the cyclic GC)."""

    id: int
    slot: int
    statement: Any
    variables_enabled: bool
    dynamic_resource: bool
    indexed_clauses: tuple[int, ...]
    def __init__(self, id: int, slot: int, statement: Any, variables_enabled: bool, dynamic_resource: bool,
                 indexed_clauses: tuple[int, ...]) -> None: ...

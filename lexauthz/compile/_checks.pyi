# Types of the compiled module lexauthz.compile._checks (lexauthz/compile/_checks.pyx).
import numpy as np
import numpy.typing as npt

def ids_below(ids: npt.NDArray[np.uint32], n: int) -> bool:
    """Whether every id of ``ids`` is below ``n``."""

def offsets_partition(off: npt.NDArray[np.uint64], end: int) -> bool:
    """Whether ``off`` (at least one entry) starts at 0, never decreases and ends at ``end``."""

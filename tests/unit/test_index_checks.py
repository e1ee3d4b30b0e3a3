"""The C checks a loaded index passes before the kernel reads it (``lexauthz.compile._checks``), against the numpy
expressions they replaced, on hand-picked edges and on random arrays."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lexauthz.compile._checks import ids_below, offsets_partition


@pytest.mark.parametrize("ids, n, ok", [
    ([], 0, True), ([], 5, True), ([0], 0, False), ([0], 1, True), ([4, 0, 3], 5, True), ([4, 5, 3], 5, False),
    ([2**32 - 1], 2**32 - 1, False), ([2**32 - 1], 2**32, True), ([7], 2**64 - 1, True),
])
def test_ids_below(ids, n, ok):
    assert ids_below(np.array(ids, dtype=np.uint32), n) is ok


@pytest.mark.parametrize("off, end, ok", [
    ([], 0, False), ([0], 0, True), ([1], 1, False), ([0], 1, False), ([0, 2, 2, 5], 5, True),
    ([0, 3, 2, 5], 5, False), ([0, 2, 5], 4, False), ([0, 2**64 - 1], 2**64 - 1, True),
    ([0, 2**63, 1], 1, False),
])
def test_offsets_partition(off, end, ok):
    assert offsets_partition(np.array(off, dtype=np.uint64), end) is ok


def test_read_only_arrays_are_accepted():
    ids = np.frombuffer(np.array([1, 2], dtype=np.uint32).tobytes(), dtype=np.uint32)
    off = np.frombuffer(np.array([0, 2], dtype=np.uint64).tobytes(), dtype=np.uint64)
    assert not ids.flags.writeable and ids_below(ids, 3) and offsets_partition(off, 2)


def test_arrays_of_another_dtype_are_refused():
    with pytest.raises(ValueError):
        ids_below(np.array([1], dtype=np.int64), 3)
    with pytest.raises(ValueError):
        offsets_partition(np.array([0, 1], dtype=np.uint32), 1)


@given(st.lists(st.integers(0, 2**32 - 1), max_size=40), st.integers(0, 2**33))
def test_ids_below_agrees_with_numpy(ids, n):
    a = np.array(ids, dtype=np.uint32)
    assert ids_below(a, n) == (not a.shape[0] or int(a.max()) < n)


@given(st.lists(st.integers(0, 60), min_size=1, max_size=40), st.integers(0, 61))
def test_offsets_partition_agrees_with_numpy(off, end):
    a = np.array(off, dtype=np.uint64)
    want = int(a[0]) == 0 and int(a[-1]) == end and not (np.diff(a.astype(np.int64)) < 0).any()
    assert offsets_partition(a, end) == want

#!/usr/bin/env bash
# Build lexauthz with AddressSanitizer + UndefinedBehaviorSanitizer (LEXAUTHZ_SANITIZE=1, see setup.py) in a copy of
# the tree, then run the test suite and the fuzz smoke run against that build.
#
#   scripts/sanitize.sh                 # build, test suite, fuzz smoke run
#   scripts/sanitize.sh --fuzz-only     # build, fuzz smoke run only
#   scripts/sanitize.sh --keep          # keep the build copy (its path is printed)
#   SANITIZE_FUZZ_SCALE=4 scripts/sanitize.sh    # a longer fuzz run (inputs per target times 4)
#   SANITIZE_PYTEST_ARGS="tests/unit" scripts/sanitize.sh
#
# The copy lives in a temporary folder (or $SANITIZE_DIR): the in-place .so files of the source tree are never
# replaced, so other processes importing lexauthz from it are not disturbed.  Python itself is not instrumented, so
# the sanitizer runtimes are preloaded; leak detection is off (CPython's arenas look like leaks), and any ASan or
# UBSan report aborts the process, which fails the run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python}"
fuzz_only=0
keep=0
for arg in "$@"; do
  case "$arg" in
    --fuzz-only) fuzz_only=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "sanitize.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

libasan="$(gcc -print-file-name=libasan.so)"
libubsan="$(gcc -print-file-name=libubsan.so)"
for lib in "$libasan" "$libubsan"; do
  if [ ! -e "$lib" ]; then
    echo "sanitize.sh: $lib not found: install the compiler's sanitizer runtimes (libasan, libubsan)" >&2
    exit 2
  fi
done

work="${SANITIZE_DIR:-$(mktemp -d -t lexauthz-sanitize-XXXXXX)}"
if [ "$keep" = 0 ] && [ -z "${SANITIZE_DIR:-}" ]; then
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
echo "sanitize.sh: building in $work"

# The tree without build products: no .so, no generated .c next to a .pyx, no build/ or caches.
(cd "$here" && tar --exclude=./.git --exclude='./build' --exclude='*.so' --exclude='__pycache__' \
     --exclude='./fuzz/work' --exclude='./fuzz/crashes' --exclude='.pytest_cache' --exclude='.hypothesis' \
     --exclude='./lexauthz/_*.c' -cf - .) | (cd "$work" && tar -xf -)

t0=$(date +%s)
(cd "$work" && LEXAUTHZ_SANITIZE=1 "$python" setup.py -q build_ext --inplace) > "$work/build.log" 2>&1 || {
  tail -50 "$work/build.log" >&2; echo "sanitize.sh: the sanitizer build failed" >&2; exit 1; }
echo "sanitize.sh: built in $(( $(date +%s) - t0 )) s"

export LD_PRELOAD="$libasan $libubsan${LD_PRELOAD:+ $LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1:${UBSAN_OPTIONS:-}"
export PYTHONPATH="$work"
cd "$work"

# The build really is instrumented: the engine module links the ASan runtime.
"$python" - <<'EOF'
import lexauthz._engine as m, os, subprocess, sys
here = os.path.dirname(os.path.abspath(m.__file__))
assert here == os.getcwd() + "/lexauthz", f"lexauthz imported from {here}, not the sanitizer copy"
out = subprocess.run(["ldd", m.__file__], capture_output=True, text=True).stdout
if "libasan" not in out:
    sys.exit(f"sanitize.sh: {m.__file__} is not linked with libasan")
print("sanitize.sh: lexauthz from", here, "(ASan + UBSan)")
EOF

# 1. The test suite; it holds the fuzz smoke test (tests/fuzz), which fails on any finding its KNOWN_OPEN table
#    does not list.  --fuzz-only runs that test alone.
status=0
tests="${SANITIZE_PYTEST_ARGS:-tests}"
[ "$fuzz_only" = 1 ] && tests="tests/fuzz"
t0=$(date +%s)
# shellcheck disable=SC2086
"$python" -m pytest -q -p no:hypothesispytest -p no:cacheprovider $tests || status=$?
echo "sanitize.sh: pytest $tests under ASan + UBSan: status $status, $(( $(date +%s) - t0 )) s"

# 2. The fuzz smoke run on its own, for its counts per target (scaled by SANITIZE_FUZZ_SCALE).  Its findings are
#    listed and copied for reading; only a process that dies (a crash or a sanitizer report: status 2 or more, or a
#    signal) fails this step, since known-open findings are judged by the test above.
t0=$(date +%s)
fuzz_status=0
"$python" -m fuzz smoke --scale "${SANITIZE_FUZZ_SCALE:-1}" --seed "${SANITIZE_FUZZ_SEED:-0}" \
  --crashes "$work/fuzz-crashes" || fuzz_status=$?
echo "sanitize.sh: fuzz smoke run under ASan + UBSan: status $fuzz_status, $(( $(date +%s) - t0 )) s"
if [ "$fuzz_status" -ge 2 ] && [ "$status" = 0 ]; then
  status=$fuzz_status
fi
if [ -d "$work/fuzz-crashes" ] && [ -n "$(ls -A "$work/fuzz-crashes" 2>/dev/null)" ]; then
  mkdir -p "$here/fuzz/crashes/sanitize"
  cp -r "$work/fuzz-crashes/." "$here/fuzz/crashes/sanitize/"
  echo "sanitize.sh: findings copied to fuzz/crashes/sanitize/"
fi
exit "$status"

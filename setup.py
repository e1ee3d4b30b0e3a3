"""Compiled extensions of lexauthz and their build toggles; all other metadata is in pyproject.toml.

Toggles (environment variables, read at build time; "1", "true", "yes" or "on" switch a flag on):

- ``LEXAUTHZ_DEBUG``: ``-O0 -g -UNDEBUG`` (C ``assert`` on) and Cython's bounds, wraparound and initialisation
  checks on as module-wide directives. NOTE: a ``@cython.boundscheck(False)`` decorator in a source file wins
  over a module-wide directive; such kernels are checked by ``LEXAUTHZ_SANITIZE`` instead.
- ``LEXAUTHZ_SANITIZE``: AddressSanitizer and UndefinedBehaviorSanitizer. Python itself is not instrumented,
  so preload the runtime when running tests::

      LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \\
      ASAN_OPTIONS=detect_leaks=0 python -m pytest

- ``LEXAUTHZ_COVERAGE``: Cython line tracing (``linetrace`` and ``CYTHON_TRACE_NOGIL``), for coverage.py with
  the ``Cython.Coverage`` plugin. Much slower; never for benchmarks.
- ``LEXAUTHZ_ARCH=VALUE``: adds ``-march=VALUE`` (for example ``native`` or ``x86-64-v3``). Opt-in only: the
  default build runs on any CPU of the target architecture.

Example: ``LEXAUTHZ_DEBUG=1 pip install -e .``
"""

import os
import re

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

# One row per compiled module: (module name, Cython source, C sources under csrc/).
# Add a module by adding a row; every module gets csrc/ and numpy's headers on its include path.
EXTENSIONS = [
    ("lexauthz._kernel", "lexauthz/_kernel.pyx", []),
    ("lexauthz._match", "lexauthz/_match.pyx", ["lxa_glob.c"]),
    ("lexauthz._conditions", "lexauthz/_conditions.pyx", []),
    ("lexauthz._engine", "lexauthz/_engine.pyx", ["lxa_bits.c"]),
    ("lexauthz.compile._records", "lexauthz/compile/_records.pyx", []),
    ("lexauthz.compile._checks", "lexauthz/compile/_checks.pyx", []),
]

CSRC = "csrc"


def _flag(name):
    """Whether the environment variable `name` switches a toggle on."""
    value = os.environ.get(name, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise SystemExit(f"setup.py: {name}={value!r}: use 1/0, true/false, yes/no or on/off")


DEBUG = _flag("LEXAUTHZ_DEBUG")
SANITIZE = _flag("LEXAUTHZ_SANITIZE")
COVERAGE = _flag("LEXAUTHZ_COVERAGE")
ARCH = os.environ.get("LEXAUTHZ_ARCH", "").strip()
if ARCH and not re.fullmatch(r"[A-Za-z0-9._+-]+", ARCH):
    raise SystemExit(f"setup.py: LEXAUTHZ_ARCH={ARCH!r} is not a -march value")

compile_args = ["-std=c11"]
link_args = []
macros = []
directives = {"language_level": 3, "binding": True, "embedsignature": True}

if DEBUG:
    compile_args += ["-O0", "-g", "-UNDEBUG"]
    directives.update(boundscheck=True, wraparound=True, initializedcheck=True)
else:
    compile_args += ["-O2"]
if SANITIZE:
    sanitizers = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    compile_args += sanitizers
    link_args += sanitizers
if COVERAGE:
    directives.update(linetrace=True)
    macros += [("CYTHON_TRACE", "1"), ("CYTHON_TRACE_NOGIL", "1")]
if ARCH:
    compile_args += [f"-march={ARCH}"]

extensions = [
    Extension(
        name,
        sources=[pyx] + [f"{CSRC}/{c}" for c in csources],
        include_dirs=[CSRC, numpy.get_include()],
        define_macros=macros,
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
    for name, pyx, csources in EXTENSIONS
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        # NOTE: always regenerate the C: cythonize's timestamp check cannot see a toggle or a Cython upgrade,
        # and a stale file from a coverage build would make every later build slow. The .c files stay next to
        # the .pyx (Cython.Coverage looks for them there) and are git-ignored.
        force=True,
    ),
)

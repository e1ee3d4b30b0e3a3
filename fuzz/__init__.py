"""The lexauthz fuzz harness: targets over every public surface, one oracle, a mutation loop and atheris.

Run ``python -m fuzz`` for the commands; ``fuzz/README.md`` describes targets, finding codes, the corpus and the
sanitizer build.  The harness uses only lexauthz's public API (and its own reader of the documented saved-engine
format); it is a development tool of the source tree and is not installed with the package.
"""

"""Opt-in benchmarks for lexauthz (pytest-benchmark); see README.md."""

"""Test helpers that ship with lexauthz: the corpus-case runner (:mod:`lexauthz.testing.cases`).

Nothing here is imported by the evaluators; ``lexauthz simulate --cases`` and the conformance suite use it.
"""

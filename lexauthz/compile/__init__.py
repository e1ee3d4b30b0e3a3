"""Static work for the compiled engine: interning, index building (pyroaring) and the flattened plan.

Private to lexauthz: :mod:`lexauthz.engine` is the public facade.  Nothing here evaluates a request; the per-request
work is in :mod:`lexauthz._engine`.  No module here imports :mod:`lexauthz.reference` (the differential tests
compare two independent implementations).
"""

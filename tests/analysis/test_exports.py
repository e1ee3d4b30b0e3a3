"""Every public name of lexauthz.analysis is what its documentation says, whatever was imported before."""
import importlib
import pkgutil
import types

import lexauthz.analysis as analysis


def test_public_names_are_not_shadowed_by_submodules():
    for mod in pkgutil.iter_modules(analysis.__path__):
        if mod.name != "dask_backend":  # needs the dask extra; its name is not a public one
            importlib.import_module(f"lexauthz.analysis.{mod.name}")
    for name in analysis.__all__:
        if name == "DaskBackend":
            continue
        value = getattr(analysis, name)
        assert not isinstance(value, types.ModuleType), name
    assert callable(analysis.matrix) and callable(analysis.diff) and callable(analysis.replay)
    assert callable(analysis.unused)

"""Every training method, found by its declaration (`METHOD` in each method's package),
so adding a method is adding its folder: nothing else lists methods."""

from __future__ import annotations

import pkgutil
from importlib import import_module
from pathlib import Path

from tuneforge.train.methods.method import Method

PACKAGE = "tuneforge.train.methods"


def _discover() -> dict[str, Method]:
    found: dict[str, Method] = {}
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if not info.ispkg:
            continue
        module = import_module(f"{PACKAGE}.{info.name}")
        method = getattr(module, "METHOD", None)
        if not isinstance(method, Method) or method.name != info.name:
            raise ImportError(
                f"{module.__name__} must declare METHOD = Method(...) named {info.name!r}"
            )
        found[method.name] = method
    return dict(sorted(found.items()))


METHODS: dict[str, Method] = _discover()
"""Method name -> declaration, in name order."""

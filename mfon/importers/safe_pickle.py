"""A restricted unpickler for third-party feature pickles (MMSA's processed datasets and the like).

:class:`SafeUnpickler` resolves only the few globals that numpy arrays and builtin containers need, so a crafted
pickle cannot run code: anything else it names is refused before it is imported.
"""

from __future__ import annotations

import _compat_pickle
import builtins
import codecs
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MfonError


def _numpy_core_module(name: str):
    """``numpy._core.<name>`` (numpy 2) or ``numpy.core.<name>`` (numpy 1), imported without deprecation noise."""
    import importlib

    try:
        return importlib.import_module(f"numpy._core.{name}")
    except ImportError:  # numpy < 1.26 has no numpy._core
        return importlib.import_module(f"numpy.core.{name}")


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes objects, limited to that one use."""
    if not isinstance(text, str) or codecs.lookup(encoding).name not in ("iso8859-1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode called with encoding {encoding!r} (only latin1 is admitted)")
    return text.encode("latin1")


def _safe_bytes(*args: Any) -> bytes:
    """``bytes`` without the ``bytes(n)`` form (which would allocate n bytes on the pickle's say-so)."""
    if args and isinstance(args[0], int):
        raise pickle.UnpicklingError("bytes(int) is not admitted")
    return bytes(*args)


def _safe_bytearray(*args: Any) -> bytearray:
    if args and isinstance(args[0], int):
        raise pickle.UnpicklingError("bytearray(int) is not admitted")
    return bytearray(*args)


def _admitted_globals() -> dict[tuple[str, str], Any]:
    multiarray, numeric = _numpy_core_module("multiarray"), _numpy_core_module("numeric")
    table: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for package in ("numpy.core", "numpy._core"):  # numpy 1 pickles name numpy.core, numpy 2 pickles numpy._core
        table[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        table[(f"{package}.multiarray", "scalar")] = multiarray.scalar
        if hasattr(numeric, "_frombuffer"):  # protocol 5 (numpy >= 1.16)
            table[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    for name in ("list", "dict", "tuple", "set", "frozenset", "str", "int", "float", "complex", "bool", "slice"):
        table[("builtins", name)] = getattr(builtins, name)
    table[("builtins", "bytes")] = _safe_bytes
    table[("builtins", "bytearray")] = _safe_bytearray
    table[("_codecs", "encode")] = _latin1_encode
    return table


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals numpy arrays and builtin containers need.

    Anything else (``os.system``, ``builtins.eval``, any class of any module, ``collections.OrderedDict`` included)
    is refused with :class:`MfonError` before it is imported, so nothing a pickle names can run.
    """

    def __init__(self, file, *, source: str | Path = "<pickle>"):
        # latin1: numpy arrays inside Python-2 pickles; Python-3 pickles (all of MMSA's) are unaffected.
        super().__init__(file, encoding="latin1")
        self.source = str(source)
        self._admitted = _admitted_globals()

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _compat_pickle.NAME_MAPPING:  # Python-2 names, e.g. __builtin__.set
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        found = self._admitted.get((module, name))
        if found is None:
            raise MfonError(f"{self.source}: refused to load {module}.{name}: the pickle names a global that is "
                            f"neither a numpy array part nor a builtin container, so it is not a plain feature "
                            f"pickle (nothing from it was run)")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise MfonError(f"{self.source}: refused a persistent id in the pickle (not a plain feature pickle)")

"""Puts boards/ on sys.path for CPython runs (MicroPython gets it from MICROPYPATH, see
tools/host/mp.py). A no-op once tests/conftest.py lists boards/ itself."""
import sys

if sys.implementation.name != "micropython":
    import os
    _p = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "boards")
    if _p not in sys.path:
        sys.path.insert(0, _p)

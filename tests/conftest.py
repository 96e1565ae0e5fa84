import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in ("lib", "boards", "firmware", "tools/host", "tests/portable", "tests/host", "tools", "tools/server", "."):
    full = os.path.join(ROOT, p)
    if full not in sys.path:
        sys.path.insert(0, full)

import cpython_shim  # noqa: E402

cpython_shim.install()

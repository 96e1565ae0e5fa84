import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for p in ("lib", "boards", "firmware", "tools/host", "tests/portable", "tests/host", "tools", "tools/server", "."):
    full = os.path.join(ROOT, p)
    if full not in sys.path:
        sys.path.insert(0, full)

import cpython_shim  # noqa: E402

cpython_shim.install()


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def unix32():
    """build/unix32/micropython, the board-true build (make firmware BOARD=unix32), built once
    per run (cached by its frozen sources). Without a MicroPython source (MICROPY_SRC or
    ../shared/vendor) the tests that need it are skipped, with one line saying why; under CI
    (CI set) it must be there, so a missing source fails."""
    import build_firmware
    try:
        if build_firmware.source_spec() is None and not os.environ.get("CI"):
            pytest.skip("board tier skipped: no MicroPython source (set MICROPY_SRC, see "
                        "make firmware BOARD=unix32)")
        return build_firmware.build_unix32(quiet=True)
    except build_firmware.BuildError as e:
        if os.environ.get("CI"):
            raise
        pytest.skip("board tier skipped: %s" % str(e).splitlines()[0])

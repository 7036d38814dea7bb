"""Makes the core test bench helpers (tests/rtl/core/) importable from the tiny-core tests."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "core"))

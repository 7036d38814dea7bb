"""Makes the core test bench helper (dure_core_bench.py) importable from the test modules."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))

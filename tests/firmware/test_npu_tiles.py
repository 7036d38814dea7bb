"""GEMMs split across two NPU tiles (firmware npu_tiles.c: npu_gemm_split / npu_split_run) on
the Verilator SoC with two 4x4 tiles (``npu-small-2t``): random shapes, both precisions, every
output type, split by columns and by rows, bit-exact with the golden model; then each tile's
own interrupt line wakes the core from a FENCE wait.

Slow (make fuzz): the two-tile SoC is a Verilator model of its own (several CPU-minutes to build),
which make test's 20-minute budget cannot carry; make test covers the tile fabric on Amaranth's
simulator (tests/rtl/soc/test_main_memory.py, test_tile_counters.py) and the headers / config."""

import numpy as np
import pytest
from dure.sim.tile_job import TileGemm, run_tile_gemms

from dure.config import preset

CONFIG = preset("npu-small-2t")


def random_gemms(seed, count=6):
    rng = np.random.default_rng(seed)
    kinds = [("int8", "int8"), ("int8", "int32"), ("int8", "fp16"), ("fp16", "fp16"),
             ("fp16", "fp32"), ("int8", "int8")]
    gemms = []
    for i in range(count):
        precision, out = kinds[i % len(kinds)]
        m, k, n = (int(rng.integers(1, hi)) for hi in (40, 48, 26))
        if precision == "int8":
            a = rng.integers(-128, 128, (m, k), dtype=np.int8)
            b = rng.integers(-128, 128, (k, n), dtype=np.int8)
            bias = rng.integers(-5000, 5000, n, dtype=np.int32) if i % 2 else None
        else:
            a = rng.standard_normal((m, k)).astype(np.float16)
            b = rng.standard_normal((k, n)).astype(np.float16)
            bias = rng.standard_normal(n).astype(np.float32) if i % 2 else None
        scale = None
        if out in ("int8", "fp16") and precision == "int8":
            scale = (rng.random(n) * 2e-3 + 1e-4).astype(np.float32)
        elif out == "fp16" and i % 2:
            scale = (rng.random(n) + 0.5).astype(np.float32)
        gemms.append(TileGemm(a, b, precision, out, bias=bias, scale=scale,
                              zero_point=int(rng.integers(-10, 10)) if out == "int8" else 0,
                              split="rows" if i % 3 == 2 else "cols"))
    return gemms


@pytest.mark.slow
@pytest.mark.parametrize("seed", [14])
def test_split_gemms_are_bit_exact_on_two_tiles(seed):
    gemms = random_gemms(seed)
    runs = run_tile_gemms(CONFIG, gemms, irq_check=True)
    for g, run in zip(gemms, runs, strict=True):
        assert run.error == 0, (g.shape, run.error)
        assert run.exact, (g.shape, g.precision, g.out, g.split)
        assert 1 <= run.tiles <= 2 and run.cycles == max(run.done)
    # shares split as documented: columns in whole 4-wide N tiles, rows evenly
    for g, run in zip(gemms, runs, strict=True):
        m, _, n = g.shape
        units = -(-n // CONFIG.npu_cols) if g.split == "cols" else m
        assert run.tiles == min(2, units)
        if run.tiles == 2:
            assert all(b > 0 for b in run.busy)

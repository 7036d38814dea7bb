"""The firmware's GEMM planner (firmware/npu/npu_gemm_plan.c), compiled for the host with the
generated dure_npu.h, picks the blocking of dure.sim.gemm_plan.plan_gemm for every shape, array
and option tried: the two run one search with one set of cost constants (DURE_NPU_GEMM_* from
dure/gemm_cost.py). The stream test (test_npu_firmware.py) checks whole streams on a few GEMMs;
this one checks the search itself on many more."""

import ctypes
import itertools
import pathlib

import pytest
from dure.sim.gemm_plan import plan_gemm
from dure.sim.verif.host_c import host_library

from dure.config import SoCConfig, preset
from dure.gemm_cost import COST_MODEL

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE = ROOT / "firmware" / "npu" / "npu_gemm_plan.c"
SHIM = r"""
#include "npu.h"
static struct npu_info info;
const struct npu_info *npu_get_info(void) { return &info; }
void set_info(uint32_t r, uint32_t c, uint32_t s, uint32_t a)
{ info.rows = r; info.cols = c; info.lanes = r > c ? r : c; info.spad_rows = s;
  info.acc_rows = a; info.fp16 = 1; }
/* out: mc, mblk, gn, q, kt, nt, w_base, scale_row; returns npu_gemm_plan's result */
int plan(uint32_t m, uint32_t k, uint32_t n, int fp16, int scale, int bias, uint32_t *out)
{
    static const uint32_t one = 1;
    struct npu_gemm g = {0};
    struct npu_gemm_plan p;
    g.m = m; g.k = k; g.n = n; g.prec = fp16 ? NPU_FP16 : NPU_INT8;
    g.scale = scale ? (const f32_t *)&one : 0;
    g.bias = bias ? &one : 0;
    int err = npu_gemm_plan(&g, &p);
    out[0] = p.mc; out[1] = p.mblk; out[2] = p.gn; out[3] = p.q;
    out[4] = p.kt; out[5] = p.nt; out[6] = p.w_base; out[7] = p.scale_row;
    return err;
}
"""

CONFIGS = [preset("sim"), preset("npu-small"),
           SoCConfig(npu_rows=4, npu_cols=8, npu_spad_rows=64, npu_acc_rows=32),
           SoCConfig(npu_rows=3, npu_cols=5, npu_spad_rows=32, npu_acc_rows=16),
           SoCConfig(npu_rows=16, npu_cols=16, npu_spad_rows=4096, npu_acc_rows=4096)]
DIMS = [1, 2, 3, 7, 8, 9, 17, 27, 64, 100, 125, 256, 300, 640, 1024, 5000]


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    return host_library(tmp_path_factory.mktemp("gemm_plan"), "plan", [SOURCE],
                        extra_sources={"shim.c": SHIM}, variant=preset("sim"))


def test_the_c_planner_uses_the_generated_constants():
    # No cost constant is typed into the C planner: each comes from dure_npu.h.
    text = SOURCE.read_text()
    for name in COST_MODEL:
        assert f"DURE_NPU_GEMM_{name}" in text
        assert f"#define {name}" not in text


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.npu_rows}x{c.npu_cols}")
def test_c_and_python_pick_the_same_plan(lib, config):
    lib.set_info(config.npu_rows, config.npu_cols, config.npu_spad_rows, config.npu_acc_rows)
    out = (ctypes.c_uint32 * 8)()
    checked = 0
    for m, k, n in itertools.product(DIMS, repeat=3):
        for fp16, scale, bias in ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0)):
            err = lib.plan(m, k, n, fp16, scale, bias, out)
            try:
                want = plan_gemm(config, m, k, n, elem_bytes=1 + fp16, scale=bool(scale),
                                 bias=bool(bias))
            except ValueError:
                assert err != 0, (m, k, n, fp16, scale, bias)
                continue
            assert err == 0, (m, k, n, fp16, scale, bias)
            got = tuple(out)
            assert got == (want.mc, want.mblk, want.gn, want.q, want.kt, want.nt, want.w_base,
                           want.scale_row), (m, k, n, fp16, scale, bias)
            checked += 1
    assert checked > 3 * len(DIMS) ** 3

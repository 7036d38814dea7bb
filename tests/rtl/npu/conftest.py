"""Shared set-up of the whole-NPU Verilator tests that run layer programs
(``test_npu_weights_verilator.py``, ``test_npu_pipelined_verilator.py``).

A module names its configuration ``CFG`` (and sets ``CHECK_MACS = True`` to also require the
NPU's MACS counter to equal each program's MACs); it then gets

``npu_rtl``
    The Verilator model of the whole NPU of ``CFG``
    (:func:`dure.sim.verif.npu_verilator.build`, built once, module scope).
``npu_layer``
    A :class:`LayerCheck` on that model: :meth:`~LayerCheck.run` runs a program on the RTL and
    on the command model and asserts the same output bytes; :meth:`~LayerCheck.w4a16` and
    :meth:`~LayerCheck.int8_gemm` are the packed-weight GEMM cases both modules check against
    the golden models.
"""

import numpy as np
import pytest
from dure.sim import golden, golden_int4, golden_sparse24
from dure.sim.layer_program import run_on_model
from dure.sim.npu_model import NpuModel
from dure.sim.verif import npu_verilator as nv
from dure.sim.verif.layer_verilator import run_layer
from dure.sim.weight_formats import gemm_program, pack_weights

from dure.config import MAIN_BASE

#: Main-memory window of the layer runs, and where operands, outputs and parameters go.
SIZE = 1 << 18
ADDRS = dict(a_addr=MAIN_BASE + 0x100, out_addr=MAIN_BASE + 0x20000,
             param_addr=MAIN_BASE + 0x30000)


class LayerCheck:
    """Layer programs on the Verilator NPU of ``config`` checked against the command model."""

    SIZE = SIZE
    ADDRS = ADDRS

    def __init__(self, config, model, check_macs):
        self.config = config
        self.model = model
        self.check_macs = check_macs

    def run(self, program, inputs, refs=None):
        """``program`` with ``inputs`` (``[(address, array)]``) on the RTL and on the command
        model: the RTL's output and performance counters (outputs asserted equal byte for byte,
        no error; with ``check_macs`` the MACS counter equal to ``program.macs``). The command
        model is appended to ``refs`` when given."""
        got, perf, error = run_layer(self.model, program, inputs, base=MAIN_BASE, size=SIZE)
        assert error == 0
        ref = NpuModel(self.config, memory={MAIN_BASE: bytes(SIZE)})
        ref.set_window(MAIN_BASE, SIZE)
        want = run_on_model(ref, program, inputs)
        assert np.array_equal(got.view(np.uint8), want.view(np.uint8))
        if self.check_macs:
            assert perf["MACS"] == program.macs
        if refs is not None:
            refs.append(ref)
        return got, perf

    def w4a16(self, seed, m):
        """An ``m x 72 x 7`` W4A16 GEMM (int4 weights, fp16 scales per 32 k with -0.0, the
        smallest subnormal and 60000 among them, fp32 out) equal to the golden bit for bit."""
        rng = np.random.default_rng(seed)
        k, n, group = 72, 7, 32
        a = rng.standard_normal((m, k)).astype(np.float16)
        q = rng.integers(-8, 8, (k, n)).astype(np.int8)
        scales = (rng.standard_normal((3, n)) * 2.0 ** rng.integers(-18, 13, (3, n))) \
            .astype(np.float16)
        scales.reshape(-1)[:3] = [np.float16(-0.0), np.float16(6e-8), np.float16(60000)]
        packed = pack_weights("int4", q, precision="fp16", tile=self.config.npu_cols,
                              scales=scales, group_size=group)
        program = gemm_program(self.config, m, packed, precision="fp16", out_dtype="fp32",
                               **ADDRS)
        got, _ = self.run(program, [(ADDRS["a_addr"], a)])
        want = golden_int4.gemm_w4a16(a, q, scales, group)
        assert np.array_equal(golden.bits(got), golden.bits(want))

    def int8_gemm(self, fmt, a, w, bias):
        """``a @ w + bias`` with ``w`` packed as ``fmt`` (``int4``, ``int8-sparse24``,
        ``int4-sparse24``), int32 out, equal to the golden W4A8 / 2:4 GEMM."""
        packed = pack_weights(fmt, w, tile=self.config.npu_cols)
        program = gemm_program(self.config, a.shape[0], packed, precision="int8",
                               out_dtype="int32", bias=bias, **ADDRS)
        got, _ = self.run(program, [(ADDRS["a_addr"], a)])
        if fmt == "int4":
            want = golden_int4.gemm_w4a8(a, w, bias)
        else:
            want = golden_sparse24.gemm_sparse24_int8(a, *golden_sparse24.compress_24(w), bias)
        assert np.array_equal(got, want)


@pytest.fixture(scope="module")
def npu_rtl(request):
    return nv.build(request.module.CFG)


@pytest.fixture(scope="module")
def npu_layer(request, npu_rtl):
    return LayerCheck(request.module.CFG, npu_rtl, getattr(request.module, "CHECK_MACS", False))

"""PERF_MACS of a descriptor list (sim/npu_model_perf.py): plain, diagonal and gather
COMPUTEs, ELTWISE MACs with and without ``pair``, nothing for other commands; and the same
count as the command model's ``macs`` after executing them."""

from dure.rtl.npu.commands import EltwiseOp, Opcode
from dure.rtl.npu.descriptor import encode
from dure.sim import npu_model
from dure.sim.npu_model_perf import macs_per_row, perf_macs


def test_perf_macs_per_kind():
    cmds = [
        encode(Opcode.COMPUTE, m=3, k=4, n=2),                     # 3 * 4 * 2
        encode(Opcode.COMPUTE, m=5, k=4, n=2, diagonal=1),         # 5 * min(4, 2)
        encode(Opcode.COMPUTE, m=2, k=3, n=4, gather=1),           # 2 * 3
        encode(Opcode.ELTWISE, op=EltwiseOp.MAX, mac=1, m=4, n=3),           # 4 * 3
        encode(Opcode.ELTWISE, op=EltwiseOp.MAX, mac=1, pair=1, m=2, n=3),   # 2 * 2 * 3
        encode(Opcode.ELTWISE, op=EltwiseOp.MAX, m=7, n=3),        # not a MAC
        encode(Opcode.FENCE),
    ]
    assert perf_macs(cmds) == 24 + 10 + 6 + 12 + 12
    assert perf_macs([]) == 0


def test_macs_per_row():
    assert macs_per_row({"k": 4, "n": 3, "diagonal": 0, "gather": 0}) == 12
    assert macs_per_row({"k": 4, "n": 3, "diagonal": 1, "gather": 0}) == 3
    assert macs_per_row({"k": 4, "n": 3, "diagonal": 0, "gather": 1}) == 4


def test_importable_from_npu_model():
    assert npu_model.perf_macs is perf_macs

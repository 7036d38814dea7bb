"""dure.sim.layer_program.work_rows: the work a layer's fixed cost is measured against."""

from dure.rtl.npu.commands import LoadTarget, Opcode, Precision
from dure.rtl.npu.descriptor import encode
from dure.sim.layer_program import LayerProgram, ParamArea, work_rows


def test_work_is_the_rows_of_the_computes_and_eltwises():
    words = [
        encode(Opcode.LOAD, target=LoadTarget.SPAD, dram_addr=0, dram_stride=8, rows=100,
               cols=8, local_addr=0),
        encode(Opcode.COMPUTE, precision=Precision.INT8, a_addr=0, w_addr=0, acc_addr=0, m=37,
               k=8, n=8),
        encode(Opcode.ELTWISE, precision=Precision.INT8, mac=1, a_addr=0, b_addr=1,
               acc_addr=0, m=11, n=8),
        encode(Opcode.STORE, dram_addr=0, dram_stride=8, rows=48, cols=8, acc_addr=0),
    ]
    assert work_rows(words) == 37 + 11
    assert work_rows(words[:1] + words[3:]) == 0


def test_param_bytes_cover_the_alignment_gaps():
    """A program's parameter area spans its blobs with their 16-byte alignment gaps (72-byte
    blobs take 80 bytes each), so a buffer placed after param_bytes overlaps none of them."""
    area = ParamArea(0x1000)
    for n in (256, 72, 72, 512):
        area.add(bytes(n))
    prog = LayerProgram([], area.blobs, 0, (1,), "int8")
    assert prog.param_bytes == area.end - 0x1000 == 256 + 80 + 80 + 512
    assert LayerProgram([], [], 0, (1,), "int8").param_bytes == 0

"""The push-by-push trace script (dure.sim.verif.walk_trace) without the Verilator model: every
descriptor pushed in order as CMD0..7 + DOORBELL, the watched counters read right after each of
the first ``watch`` pushes, the final counters after idle."""

import numpy as np
import pytest
from dure.rtl.npu.commands import Opcode, Register
from dure.rtl.npu.descriptor import encode
from dure.sim.conv_plan import conv2d_int8_program
from dure.sim.golden_tflite_params import conv_multipliers
from dure.sim.verif import npu_verilator as nv
from dure.sim.verif.walk_trace import FINAL, WATCHED, describe, trace_script

from dure.config import MAIN_BASE, preset


def _program():
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, (16, 3, 3, 16), dtype=np.int8)
    mult, shift = conv_multipliers(0.05, np.full(16, 0.01), 0.1, 16)
    return conv2d_int8_program(preset("sim"), (1, 8, 8, 16), w, None, input_zero_point=-3,
                               output_zero_point=2, multiplier=mult, shift=shift,
                               x_addr=MAIN_BASE, out_addr=MAIN_BASE + 4096,
                               param_addr=MAIN_BASE + 8192)


@pytest.mark.parametrize("watch", [0, 3, 10_000])
def test_script_pushes_every_descriptor_and_reads_after_the_watched_ones(watch):
    descriptors = _program().descriptors
    script, marks = trace_script(descriptors, MAIN_BASE, 1 << 16, watch)
    assert script[:2] == [nv.write("DMA_BASE", MAIN_BASE), nv.write("DMA_SIZE", 1 << 16)]
    assert len(marks) == min(watch, len(descriptors))
    pushed, at = [], 3
    for i, words in enumerate(descriptors):
        assert script[at:at + 9] == nv.submit(words)
        pushed.append(words)
        at += 9
        if i < watch:
            assert marks[i] == at
            assert script[at:at + len(WATCHED)] == [nv.read(r) for r in WATCHED]
            at += len(WATCHED)
    assert pushed == descriptors
    assert script[at] == nv.wait_idle()
    assert script[at + 1:] == [nv.read(r) for r in FINAL]
    assert all(op[1] != Register.STATUS for op in script[:at])


def test_bad_watch_is_refused():
    with pytest.raises(ValueError, match="watch must be >= 0"):
        trace_script([], MAIN_BASE, 1 << 16, -1)


def test_describe_names_fills_and_computes():
    fill = encode(Opcode.LOAD, fill=1, rows=19, cols=8, local_addr=576)
    comp = encode(Opcode.COMPUTE, a_addr=577, w_addr=32, m=64, k=8, n=8)
    assert describe(fill) == "LOAD FILL rows=19 at=576"
    assert describe(comp) == "COMPUTE rows=64 at=577 w=32"

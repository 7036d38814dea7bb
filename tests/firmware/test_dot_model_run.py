"""firmware/dot_apps/dot_model_run: whole compiled models (compiler/dot_target.py) on the
simulated iCEBreaker SoC with its dot-product unit (``icebreaker-elf``: the ``icebreaker``
preset without the boot ROM, so the simulator starts the ELF directly; the same memories,
core and unit). Every output bit for bit LiteRT's reference kernels and every intermediate
tensor still in memory the compiler's reference; the unit against the core alone (the same
program with ``unit=False``: the same bits, more cycles; the figures of fpga/README.md's
board-inference table come from ``-s``). A table the firmware cannot run stops with its named
status. The firmware and its headers are built by :func:`dure.sim.npu_job_build.job_elf`
(a fresh clone needs no ``make header``)."""

import numpy as np
import pytest
from dure.compiler.dot_target import compile_dot
from dure.compiler.soc import check_intermediates, run_program_soc
from dure.sim.verif import dot_models as dm
from dure.sim.verif.litert_ref import run_reference

from dure.config import preset

CONFIG = preset("icebreaker-elf")
CLOCK = preset("icebreaker").clk_freq

MODELS = {
    **dm.WHOLE_MODELS,
    # single depthwise layers: the gather's geometries (stride 2 and SAME, dilation 2 and VALID,
    # a 5x5 window of 28 taps in 7 words, a 1x1 window in one word)
    "dw_s2": (dm.tflite_int8_depthwise, dict(h=7, w=7, c=3, stride=2, activation="RELU6")),
    "dw_dilated": (dm.tflite_int8_depthwise, dict(h=7, w=6, c=5, padding="VALID", dilation=2,
                                                  activation="RELU")),
    "dw_5x5": (dm.tflite_int8_depthwise, dict(h=5, w=5, c=2, k=5)),
    "dw_1x1": (dm.tflite_int8_depthwise, dict(h=3, w=3, c=8, k=1, padding="VALID")),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_bit_exact_unit_faster_than_core(name, model_case):
    data, graph, x = model_case(name)
    want = run_reference(data, x)[0]
    cycles = {}
    for unit in (True, False):
        program = compile_dot(graph, CONFIG, unit=unit)
        outputs, run = run_program_soc(program, [x])
        assert outputs[0].dtype == want.dtype and np.array_equal(outputs[0], want), unit
        checked, bad = check_intermediates(program, run.image, [x])
        assert checked and not bad
        assert len(run.segments) == 1 and not run.host_layers
        cycles[unit] = run
    dot, core = cycles[True], cycles[False]
    streams = [i for i, la in enumerate(compile_dot(graph, CONFIG).layers)
               if la.kind in ("dot_dense", "dot_depthwise") and la.params["dot"]]
    print(f"{name}: dot unit {dot.cycles} cycles ({CLOCK / dot.cycles:.1f} inferences/s at "
          f"12 MHz), core alone {core.cycles} ({CLOCK / core.cycles:.1f}/s), "
          f"x{core.cycles / dot.cycles:.2f}; per layer {dot.layer_cycles} / "
          f"{core.layer_cycles}")
    if streams:
        assert dot.cycles < core.cycles
        for i in streams:           # every streamed layer is faster than the core's loop
            assert dot.layer_cycles[i] < core.layer_cycles[i]
    else:
        assert dot.cycles == core.cycles


def test_npu_record_stops_the_walk(model_case):
    # a layer table with an NPU record (a program compiled for an NPU variant's layout): this
    # SoC has no NPU, so the walk stops with the NPU status at that layer, never a hang
    _, graph, x = model_case("mlp")
    program = compile_dot(graph, CONFIG)
    layer = program.layers[1]
    layer.where = "npu"
    layer.commands = [[0] * 8]
    with pytest.raises(RuntimeError, match="dot_model_run firmware failed: NPU at layer 1 "
                       "\\(NPU error 255"):
        run_program_soc(program, [x])


def test_stream_record_with_partial_words_refused(model_case):
    # a record asking for the unit with K not a multiple of 4: the firmware refuses it (ARG)
    _, graph, x = model_case("mlp_odd")
    program = compile_dot(graph, CONFIG)
    program.layers[0].params["dot"] = True
    with pytest.raises(RuntimeError, match="failed: ARG at layer 0"):
        run_program_soc(program, [x])


def test_depthwise_record_with_short_rows_refused(model_case):
    # a depthwise record whose rows are shorter than the window (8 bytes for 3x3 taps): the
    # firmware refuses it (ARG) instead of writing past the scratch rows
    _, graph, x = model_case("cnn_dw")
    program = compile_dot(graph, CONFIG)
    i = next(i for i, la in enumerate(program.layers) if la.kind == "dot_depthwise")
    program.layers[i].params["kk4"] = 8
    with pytest.raises(RuntimeError, match=f"failed: ARG at layer {i}"):
        run_program_soc(program, [x])

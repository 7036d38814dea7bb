"""The FULLY_CONNECTED fallback through the npu_model_run walker compiled for the host
(firmware/npu_jobs/npu_model_run/layer_table.c, the FC_RESCALE_TFLITE record calling
cpu_fc_rescale_tflite of firmware/npu/cpu_rescale_double.c), its NPU layer on the golden
command model: the raw int32 sums and the C rescale equal LiteRT bit for bit, on a forced
fallback at session 19's knife edge and on a layer whose products leave int32; a record
with a bad shape or scale address stops with its error code."""

import numpy as np
import pytest
from dure.compiler import program as pg
from dure.compiler.execute import read_outputs
from dure.compiler.lower import compile_graph
from dure.compiler.soc import check_intermediates
from dure.compiler.tflite_frontend import parse_tflite
from dure.sim.verif import fc_models
from dure.sim.verif import layer_walker as lw
from dure.sim.verif import tflite_builder as tb
from dure.sim.verif.litert_ref import run_reference

from dure.config import preset


def _run(lib, load_program, program, x):
    mem, table_addr, records = load_program(program, x)
    st, off, _ = lw.walk(lib, mem, table_addr, program.config, tiles=False)
    return st, mem, records


@pytest.mark.parametrize("case", ["knife_forced", "overflow_zp_neg", "overflow_zp_pos"])
def test_fallback_on_the_host_walker_equals_litert(walker_lib, load_program, case):
    batch = 3
    if case == "knife_forced":
        data = fc_models.knife_edge_model(batch)
        xs = [fc_models.knife_edge_inputs(batch)]
    else:
        data = fc_models.overflow_model(batch, -5 if case.endswith("neg") else 7)
        xs = fc_models.overflow_inputs(batch)[::7]
    graph = parse_tflite(data)
    program = compile_graph(graph, preset("npu-small"), fc_fallback=case == "knife_forced")
    assert [la.kind for la in program.layers] == ["gemm", "fc_rescale"]
    for x in xs:
        st, mem, records = _run(walker_lib, load_program, program, x)
        assert st == pg.TableError.OK
        assert records[1][1] == pg.CoreOp.FC_RESCALE_TFLITE
        got = read_outputs(mem, program)[0]
        assert np.array_equal(got, run_reference(data, x)[0])
        checked, bad = check_intermediates(program, mem.buf.tobytes(), [x])
        assert checked and not bad, bad


@pytest.mark.parametrize("word, value, status", [(6, 2, pg.TableError.ARG),
                                                  (3, 0, pg.TableError.RANGE),
                                                  (18, 200, pg.TableError.ARG)])
def test_bad_fc_rescale_record_stops(walker_lib, load_program, word, value, status):
    data = fc_models.knife_edge_model(3)
    program = compile_graph(parse_tflite(data), preset("npu-small"), fc_fallback=True)
    mem, table_addr, records = load_program(program, fc_models.knife_edge_inputs(3))
    at = table_addr + 4 * (pg.HEADER_WORDS + pg.RECORD_WORDS + word)
    mem.write(at, np.array([value], np.uint32).tobytes())
    st, _, _ = lw.walk(walker_lib, mem, table_addr, program.config, tiles=False)
    assert st == status


@pytest.mark.parametrize("batch,tiles", [(2, 3), (33, 4)], ids=["cols", "rows"])
def test_fallback_split_across_tiles(walker_lib, load_split, batch, tiles):
    """The raw INT32 GEMM split across NPU tiles (tile_split: by output columns, or by rows
    for a tall batch), each part's STOREs at its 4-byte offsets, then the core rescale."""
    from dure.compiler.tile_split import split_program

    rng = np.random.default_rng(batch)
    w = rng.integers(-127, 128, (40, 24)).astype(np.int8)
    bias = rng.integers(-2 ** 20, 2 ** 20, 40).astype(np.int32)
    data = tb.fully_connected_model((batch, 24), w, bias, tb.Quant(0.05, -3),
                                    tb.Quant(0.01, 0, 0), tb.Quant(0.7, 4))
    graph = parse_tflite(data)
    program = compile_graph(graph, preset("sim"), fc_fallback=True)
    split = split_program(program, tiles)
    x = rng.integers(-128, 128, (batch, 24)).astype(np.int8)
    mem, table_addr, records = load_split(split, x)
    assert records[0][0] == pg.LayerKind.NPU_TILES and records[0][1] > 1
    st, _, _ = lw.walk(walker_lib, mem, table_addr, program.config)
    assert st == pg.TableError.OK
    assert np.array_equal(read_outputs(mem, program)[0], run_reference(data, x)[0])

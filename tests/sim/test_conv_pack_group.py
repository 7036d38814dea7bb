"""The packed plan over a batch (dure.sim.conv_pack): images grouped on one tall tile, one
gather walk, round trip and FENCE per group, each image's convolution in its own ACC window
from bias rows held in ACC; bit for bit with the golden operators on the command model, INT8
and FP16, on batches of 1, 2, odd sizes and more than GROUP_IMAGES (a short last group)."""

import numpy as np
import pytest
from dure.rtl.npu.commands import LoadTarget, Opcode, Precision
from dure.rtl.npu.descriptor import decode
from dure.sim.conv_pack import GROUP_IMAGES, pack_layout
from dure.sim.conv_plan import conv2d_fp16_program, conv2d_int8_program
from dure.sim.golden_tflite import conv2d_int8
from dure.sim.golden_tflite_fp16 import conv2d_fp16
from dure.sim.layer_program import run_on_model
from dure.sim.npu_model import NpuModel
from dure.sim.walk_layer import geometry

from dure.config import preset

CONFIGS = {"sim": preset("sim"), "npu-small": preset("npu-small")}
BATCHES = [1, 2, 3, 5, GROUP_IMAGES + 1]
#: (image HxWxC, cout, kernel, stride, padding): make sim's CNN layer (SAME here); Cin 2 with
#: two kernel-row groups; 9 tile rows, slots 10 apart, three output chunks
LAYERS = [((8, 8, 1), 16, (3, 3), (2, 2), "SAME"),
          ((9, 7, 2), 11, (3, 2), (2, 1), "SAME"),
          ((9, 7, 1), 20, (2, 3), (2, 2), "VALID")]


def _run(config, program, x):
    main = config.region("main")
    model = NpuModel(config)
    model.set_window(main.base, main.size)
    return run_on_model(model, program, [(main.base, x)])


def _addrs(config):
    main = config.region("main")
    quarter = main.size // 4
    return dict(x_addr=main.base, out_addr=main.base + quarter,
                param_addr=main.base + 2 * quarter)


def _int8(config, x, w, bias, stride, padding):
    kw = dict(input_zero_point=-5, output_zero_point=3, multiplier=np.full(w.shape[0], 1 << 30),
              shift=np.full(w.shape[0], -9), stride=stride, padding=padding, lo=-100, hi=120)
    prog = conv2d_int8_program(config, x.shape, w, bias, **_addrs(config), **kw)
    return prog, conv2d_int8(x, w, bias, **kw)


def _fp16(config, x, w, bias, stride, padding):
    kw = dict(stride=stride, padding=padding, lo=-3.0)
    prog = conv2d_fp16_program(config, x.shape, w, bias, **_addrs(config), **kw)
    return prog, conv2d_fp16(x, w, bias, **kw)


def _case(rng, precision, batch, layer, bias=True):
    shape, cout, kernel, stride, padding = layer
    if precision == "int8":
        x = rng.integers(-128, 128, (batch, *shape), dtype=np.int8)
        w = rng.integers(-128, 128, (cout, *kernel, shape[2]), dtype=np.int8)
        b = rng.integers(-20000, 20000, cout, dtype=np.int32)
        return x, w, b, stride, padding
    x = rng.standard_normal((batch, *shape)).astype(np.float16)
    x.reshape(-1)[:3] = [-0.0, np.inf, 6e-8]
    w = rng.standard_normal((cout, *kernel, shape[2])).astype(np.float16)
    b = rng.standard_normal(cout).astype(np.float32) if bias else None
    return x, w, b, stride, padding


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("precision", ["int8", "fp16"])
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("layer", range(len(LAYERS)))
def test_grouped_batch_is_bit_exact(cfg, precision, batch, layer):
    config = CONFIGS[cfg]
    rng = np.random.default_rng(batch * 10 + layer)
    x, w, b, stride, padding = _case(rng, precision, batch, LAYERS[layer],
                                     bias=batch % 2 == 1)
    prog, want = (_int8 if precision == "int8" else _fp16)(config, x, w, b, stride, padding)
    assert any("taps packed" in n for n in prog.notes)
    got = _run(config, prog, x)
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8))
    geo = geometry(x.shape, w.shape[1:3], stride, padding)
    lay = pack_layout(config, geo, x.shape[3], w.shape[0],
                      Precision.INT8 if precision == "int8" else Precision.FP16)
    assert 1 <= lay.group <= min(batch, GROUP_IMAGES)
    if cfg == "sim" and layer == 0:                 # the CNN layer: 10 fit with two tiles
        assert lay.group == min(batch, 10) and lay.tiles == (2 if batch > 1 else 1)
    fences = sum(1 for d in prog.descriptors if decode(d)[0] is Opcode.FENCE)
    assert fences == -(-batch // lay.group)


def _computes(prog):
    return [f for op, f in map(decode, prog.descriptors) if op is Opcode.COMPUTE]


def test_images_of_a_group_use_their_own_slots_and_windows():
    """make sim's CNN layer, 5 images: one tile of 5 slots, the 6 gather COMPUTEs walk all of
    them (5 position rows per image), and image i's convolution reads packed rows from row
    i * 20 and writes ACC window i (the windows alternate, so image i + 1's COMPUTEs need not
    wait for image i's STOREs); the convolutions start from the bias rows (init_row), with no
    ACC-init LOAD per image."""
    config = CONFIGS["sim"]
    x, w, b, stride, padding = _case(np.random.default_rng(0), "int8", 5, LAYERS[0])
    prog, _ = _int8(config, x, w, b, stride, padding)
    geo = geometry(x.shape, (3, 3), stride, padding)
    lay = pack_layout(config, geo, 1, 16)
    assert (lay.group, lay.pitch, lay.ppr, lay.pos, lay.gpos, lay.nt) == (5, 10, 5, 20, 100, 2)
    comps = _computes(prog)
    gather = [f for f in comps if f["m"] == lay.gpos]
    assert len(gather) == 6 and all(f["a_rows"] == 25 for f in gather)
    conv = [f for f in comps if f["m"] == lay.opix]
    assert len(conv) == 5 * 2 * 2                          # images x chunks x row groups
    for i in range(5):
        mine = conv[4 * i:4 * i + 4]
        assert {f["a_addr"] - lay.packed for f in mine} == {i * 20, i * 20 + 4}
        window = lay.out0 + (i % lay.windows) * lay.obufs * lay.opix
        assert {f["acc_addr"] for f in mine} == {window, window + lay.opix}
        assert [f["init_row"] for f in mine] == [1, 1, 0, 0]
    assert lay.windows == 5
    acc_inits = [f for op, f in map(decode, prog.descriptors)
                 if op is Opcode.LOAD and f["target"] == LoadTarget.ACC and f["rows"] == lay.opix]
    assert not acc_inits


def test_a_batch_of_one_keeps_the_per_image_plan():
    """One image: no slots, no held bias rows; the ACC starts from a broadcast LOAD per chunk as
    before the groups (the layer benches' lists are unchanged)."""
    config = CONFIGS["sim"]
    x, w, b, stride, padding = _case(np.random.default_rng(1), "int8", 1, LAYERS[0])
    prog, _ = _int8(config, x, w, b, stride, padding)
    lay = pack_layout(config, geometry(x.shape, (3, 3), stride, padding), 1, 16)
    assert lay.group == 1 and not lay.held
    assert not any(f["init_row"] for f in _computes(prog))
    broadcasts = [f for op, f in map(decode, prog.descriptors)
                  if op is Opcode.LOAD and f["broadcast"]]
    assert len(broadcasts) == lay.nt

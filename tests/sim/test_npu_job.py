"""NPU jobs (sim/npu_job.py): the table a job writes, and jobs run on the simulated SoC through
the npu_job firmware: every output type, odd shapes, K larger than the array, ties,
fp16 specials, a chained layer and the CPU-path check, all bit-exact against dure.sim.golden;
convolution layers (npu_conv2d: im2col and 1x1 paths, stride 1 and 2, padding, cin > 1, cout
not a multiple of the array width) bit-exact against reference_conv2d."""

import dataclasses
import struct

import numpy as np
import pytest
from dure.sim import npu_job
from dure.sim.npu_job import Job, reference

from dure.config import preset
from dure.errors import UserError

CONFIG = preset("npu-small")   # the test suite's NPU variant (tests/conftest.py)


def _bits(x):
    return x.view(f"u{x.dtype.itemsize}")


def test_table_layout():
    job = Job(CONFIG, max_layers=4)
    a = np.arange(6, dtype=np.int8).reshape(2, 3)
    b = np.ones((3, 5), np.int8)
    out = job.gemm(a, b, precision="int8", out_dtype="int32")
    words = struct.unpack(f"<{len(job.table()) // 4}I", job.table())
    assert words[:4] == (npu_job.MAGIC, npu_job.VERSION, 1, 0)
    layer = dict(zip(npu_job.LAYER_FIELDS, words[len(npu_job.HEADER_FIELDS):], strict=True))
    assert (layer["prec"], layer["out_type"], layer["m"], layer["k"], layer["n"]) == \
        (0, 1, 2, 3, 5)
    assert (layer["a_stride"], layer["b_stride"], layer["out_stride"]) == (3, 5, 20)
    assert layer["out"] == out.addr and layer["bias"] == layer["scale"] == 0
    assert (layer["lo"], layer["hi"], layer["clamp"]) == (0, 0, 0)
    assert all(layer[name] == 0 for name in npu_job._LAYER_RESULTS)
    segments = dict(job.data_segments())
    assert segments[layer["a"]] == a.tobytes()


@pytest.mark.parametrize("kwargs, message", [
    (dict(precision="int4"), "precision must be"),
    (dict(precision="int8", out_dtype="fp32"), "not available with int8"),
    (dict(precision="int8"), "needs a scale"),
    (dict(precision="int8", out_dtype="int32", scale=np.ones(5, np.float32)), "takes no scale"),
    (dict(precision="int8", out_dtype="int32", bias=np.ones(4, np.int32)), "bias must be"),
    (dict(precision="int8", scale=np.ones(5, np.float32), lo=3, hi=2), "lo <= hi"),
    (dict(precision="fp16"), "must be a 2-D float16"),
])
def test_bad_layers(kwargs, message):
    with pytest.raises(UserError, match=message):
        Job(CONFIG).gemm(np.ones((2, 3), np.int8), np.ones((3, 5), np.int8), **kwargs)


def test_job_too_large_for_main_memory():
    with pytest.raises(UserError, match="does not fit in main memory"):
        Job(CONFIG).put(np.zeros(CONFIG.main_size, np.int8))


def _fp16_specials(rng, shape):
    x = (rng.standard_normal(shape) * 2).astype(np.float16)
    flat = x.reshape(-1)
    picks = rng.choice(flat.size, size=min(flat.size, 12), replace=False)
    specials = np.array([np.nan, np.inf, -np.inf, 6e-8, -6e-8, -0.0, 65504, 1e-5, -3e-7, 0.0,
                         np.nan, 2e-6], np.float16)
    flat[picks] = specials[:len(picks)]
    return x


def _layers(rng):
    """(kwargs, note) of every layer of the big job; a None 'a' chains the previous output."""
    i8 = lambda *s: rng.integers(-128, 128, s, dtype=np.int8)  # noqa: E731
    ties = np.array([0.5, 0.25, 1.5, 0.5, 0.125, 0.5, 2.0, 0.5, 0.375, 0.5, 0.75], np.float32)
    f16 = lambda *s: (rng.standard_normal(s) * 0.5).astype(np.float16)  # noqa: E731
    return [
        dict(a=rng.integers(-3, 4, (13, 37), dtype=np.int8),
             b=rng.integers(-3, 4, (37, 11), dtype=np.int8), precision="int8",
             bias=rng.integers(-9, 9, 11, dtype=np.int32), scale=ties, zero_point=-3,
             lo=-100, hi=90, out_dtype="int8"),
        dict(a=i8(5, 70), b=i8(70, 19), precision="int8",
             bias=rng.integers(-2**20, 2**20, 19, dtype=np.int32), out_dtype="int32"),
        dict(a=i8(9, 17), b=i8(17, 10), precision="int8",
             scale=rng.uniform(-1e-3, 1e-3, 10).astype(np.float32), lo=-0.05, hi=0.07,
             out_dtype="fp16"),
        dict(a=i8(1, 8), b=i8(8, 8), precision="int8",
             scale=np.full(8, 1e-2, np.float32), out_dtype="fp16"),
        dict(a=_fp16_specials(rng, (11, 29)), b=_fp16_specials(rng, (29, 13)),
             precision="fp16", bias=rng.standard_normal(13).astype(np.float32),
             out_dtype="fp16"),
        dict(a=f16(7, 45), b=f16(45, 9), precision="fp16",
             scale=rng.uniform(-2, 2, 9).astype(np.float32), lo=-1.0, hi=1.5,
             out_dtype="fp16"),
        dict(a=None, b=f16(9, 6), precision="fp16", out_dtype="fp32"),
        dict(a=_fp16_specials(rng, (6, 20)), b=f16(20, 3), precision="fp16",
             bias=np.array([-0.0, 1e-40, -np.inf], np.float32),
             scale=np.array([1.0, 3e38, -2.0], np.float32), lo=-1e30, out_dtype="fp32"),
        dict(a=f16(4, 2000), b=f16(2000, 5), precision="fp16", out_dtype="fp32"),
    ]


def test_layers_on_the_soc_are_bit_exact():
    rng = np.random.default_rng(7)
    job = Job(CONFIG)
    specs, buffers, previous = [], [], None
    for spec in _layers(rng):
        if spec["a"] is None:
            spec["a"] = previous
        buffers.append(job.gemm(**spec))
        specs.append(spec)
        previous = buffers[-1]
    # two small layers also checked on the firmware's CPU path
    small_i8 = dict(a=rng.integers(-128, 128, (3, 10), dtype=np.int8),
                    b=rng.integers(-128, 128, (10, 5), dtype=np.int8), precision="int8",
                    scale=np.full(5, 0.01, np.float32), zero_point=4, out_dtype="int8")
    small_f16 = dict(a=_fp16_specials(rng, (2, 9)), b=_fp16_specials(rng, (9, 3)),
                     precision="fp16", out_dtype="fp16", lo=0.0)
    for spec in (small_i8, small_f16):
        buffers.append(job.gemm(**spec, cpu_check=True))
        specs.append(spec)
    result = job.run(max_cycles=20_000_000)
    inputs = []
    for i, (spec, buf) in enumerate(zip(specs, buffers, strict=True)):
        spec = dict(spec)
        a = spec.pop("a")
        a = result.read(a) if isinstance(a, npu_job.Buffer) else a
        got = result.read(buf)
        want = reference(a=a, **spec)
        assert got.dtype == want.dtype and got.shape == want.shape, i
        bad = np.argwhere(_bits(got) != _bits(want))
        assert len(bad) == 0, f"layer {i}: {len(bad)} mismatches, first {bad[0]}"
        stats = result.layers[i]
        assert stats["error"] == 0 and stats["status"] == 1
        assert stats["macs"] == a.shape[0] * a.shape[1] * spec["b"].shape[1]
        assert stats["cycles"] > 0 and stats["dma_wr"] >= got.nbytes
        inputs.append(a)
    for index in (len(specs) - 2, len(specs) - 1):
        assert result.layers[index]["check"] == 1
        assert np.array_equal(_bits(result.cpu_output(index)), _bits(result.output(index)))
    lines = [ln for ln in result.run.uart.decode().splitlines() if ln.startswith("NPUJOB ")]
    assert len(lines) == len(specs)
    assert f"cycles={result.layers[0]['cycles']} " in lines[0]


def test_conv_table_fields_and_reshape():
    job = Job(CONFIG, max_layers=4)
    x = np.zeros((2, 7, 6, 3), np.int8)
    w = np.ones((3, 3, 3, 5), np.int8)
    y = job.conv2d(x, w, precision="int8", stride=2, pad=1, pad_value=-3,
                   scale=np.ones(5, np.float32), zero_point=2, lo=2)
    assert y.shape == (2, 4, 3, 5) and y.dtype == np.int8
    words = struct.unpack(f"<{len(job.table()) // 4}I", job.table())
    header = dict(zip(npu_job.HEADER_FIELDS, words, strict=False))
    layer = dict(zip(npu_job.LAYER_FIELDS, words[len(npu_job.HEADER_FIELDS):], strict=True))
    assert layer["kind"] == npu_job.KIND_CONV2D
    assert [layer[f] for f in ("batch", "h", "w", "cin", "cout", "kh", "kw", "stride", "pad")] \
        == [2, 7, 6, 3, 5, 3, 3, 2, 1]
    assert layer["pad_value"] == 0xFFFF_FFFD and layer["zero_point"] == 2
    assert (layer["m"], layer["k"], layer["n"], layer["out_type"]) == (24, 27, 5, 0)
    assert (layer["lo"], layer["hi"]) == (2, 127) and layer["out"] == y.addr
    assert header["scratch"] >= y.addr + y.nbytes and header["scratch"] % 16 == 0
    assert header["scratch"] + header["scratch_size"] == CONFIG.region("main").end
    flat = y.reshape(2, -1)
    assert (flat.addr, flat.shape, flat.row_stride, flat.nbytes) == (y.addr, (2, 60), 60, 120)
    with pytest.raises(UserError, match="cannot reshape"):
        y.reshape(7, -1)


@pytest.mark.parametrize("kwargs, message", [
    (dict(precision="int8", x=np.ones((2, 3), np.int8)), "x must be a 4-D NHWC int8"),
    (dict(precision="int8", weights=np.ones((3, 3, 2, 4), np.int8)), "channels do not chain"),
    (dict(precision="int8", stride=0), "stride must be >= 1"),
    (dict(precision="int8", weights=np.ones((7, 3, 1, 4), np.int8)), "does not fit a 5x5"),
    (dict(precision="int8", pad=1, pad_value=200), "pad value must be an int8"),
    (dict(precision="int8", scale=None), "needs a scale"),
    (dict(precision="fp16"), "must be a 4-D NHWC float16"),
    (dict(precision="fp16", x=np.ones((1, 5, 5, 1), np.float16), pad=1, pad_value=1,
          weights=np.ones((3, 3, 1, 4), np.float16), scale=None), "pad with \\+0.0"),
])
def test_bad_conv_layers(kwargs, message):
    args = dict(x=np.ones((1, 5, 5, 1), np.int8), weights=np.ones((3, 3, 1, 4), np.int8),
                scale=np.ones(4, np.float32))
    args.update(kwargs)
    with pytest.raises(UserError, match=message):
        Job(CONFIG).conv2d(**args)


def test_conv_im2col_must_fit_main_memory():
    job = Job(CONFIG)
    assert CONFIG.main_size == 4 * 2**20
    big = np.zeros((1, 512, 256, 4), np.int8)                  # 512 KiB input
    w = np.ones((3, 3, 4, 4), np.int8)                         # im2col: 131072 x 36 bytes
    with pytest.raises(UserError, match=r"im2col buffer \(4718592 bytes\) does not fit"):
        job.conv2d(big, w, precision="int8", pad=1, scale=np.ones(4, np.float32))
    assert job.layers == []
    # a 1x1 kernel without padding needs no im2col buffer
    job.conv2d(big, w[:1, :1], precision="int8", scale=np.ones(4, np.float32))
    # later buffers can take the room an earlier convolution needs: checked again at run time
    job = Job(CONFIG)
    job.conv2d(big[:, :256], w, precision="int8", pad=1, scale=np.ones(4, np.float32))
    job.table()                                                # 2359296 bytes: they fit
    job.put(np.zeros(2 * 2**20, np.int8))
    with pytest.raises(UserError, match="layer 0: the convolution's im2col buffer"):
        job.table()


def _conv_layers(rng):
    """Convolution layers (Job.conv2d kwargs) for the SoC: odd shapes, both paths of
    npu_conv2d (im2col and the direct 1x1), both precisions; a None 'x' chains."""
    i8 = lambda *s: rng.integers(-128, 128, s, dtype=np.int8)  # noqa: E731
    f16 = lambda *s: (rng.standard_normal(s) * 0.7).astype(np.float16)  # noqa: E731
    return [
        # 3x3, stride 2, padding 1 with a non-zero pad value, cin 3, cout 5 (not a multiple of 4)
        dict(x=i8(2, 7, 6, 3), weights=i8(3, 3, 3, 5), precision="int8", stride=2, pad=1,
             pad_value=-5, bias=rng.integers(-4000, 4000, 5, dtype=np.int32),
             scale=rng.uniform(1e-4, 2e-3, 5).astype(np.float32), zero_point=-2, lo=-2),
        # chained: 2x3 kernel, stride 1, padding 2 on the previous output, cout 7
        dict(x=None, weights=i8(2, 3, 5, 7), precision="int8", stride=1, pad=2, pad_value=-2,
             scale=np.full(7, 0.004, np.float32), zero_point=0),
        # 1x1 stride 2 (strided DMA, one GEMM per output row) and 1x1 stride 1 (input as A)
        dict(x=i8(2, 5, 7, 6), weights=i8(1, 1, 6, 9), precision="int8", stride=2,
             scale=np.full(9, 0.01, np.float32)),
        dict(x=f16(1, 3, 5, 4), weights=f16(1, 1, 4, 6), precision="fp16",
             bias=rng.standard_normal(6).astype(np.float32)),
        # FP16 3x3 stride 1 padding 1 (+0.0 padding), specials in the input, scale and clamp
        dict(x=_fp16_specials(rng, (2, 5, 4, 3)), weights=f16(3, 3, 3, 6), precision="fp16",
             stride=1, pad=1, bias=rng.standard_normal(6).astype(np.float32),
             scale=rng.uniform(-2, 2, 6).astype(np.float32), lo=-1.0, hi=2.5),
        # FP16 stride 2, K = 2*2*9 = 36 > the array's K tile, ReLU
        dict(x=f16(1, 6, 5, 9), weights=f16(2, 2, 9, 3), precision="fp16", stride=2, pad=1,
             lo=0.0),
    ]


def test_conv_layers_on_the_soc_are_bit_exact():
    rng = np.random.default_rng(11)
    job = Job(CONFIG)
    specs, buffers, previous = [], [], None
    for i, spec in enumerate(_conv_layers(rng)):
        if spec["x"] is None:
            spec["x"] = previous
        buffers.append(job.conv2d(**spec, cpu_check=i in (0, 5)))
        specs.append(spec)
        previous = buffers[-1]
    # a GEMM reading a convolution's NHWC output as batch x (oh*ow*cout)
    fc = dict(a=buffers[0].reshape(2, -1), b=rng.integers(-9, 9, (60, 10), dtype=np.int8),
              precision="int8", out_dtype="int32")
    fc_out = job.gemm(**fc)
    result = job.run(max_cycles=20_000_000)
    for i, (spec, buf) in enumerate(zip(specs, buffers, strict=True)):
        spec = dict(spec)
        x = spec.pop("x")
        x = result.read(x) if isinstance(x, npu_job.Buffer) else x
        got = result.read(buf)
        want = npu_job.reference_conv2d(x=x, **spec)
        assert got.dtype == want.dtype and got.shape == want.shape, i
        bad = np.argwhere(_bits(got) != _bits(want))
        assert len(bad) == 0, f"conv {i}: {len(bad)} mismatches, first {bad[0]}"
        stats = result.layers[i]
        assert stats["error"] == 0 and stats["status"] == 1
        assert stats["macs"] == got.size * np.prod(spec["weights"].shape[:3]), i
    for index in (0, 5):
        assert result.layers[index]["check"] == 1 and result.layers[index]["cpu_cycles"] > 0
        assert np.array_equal(_bits(result.cpu_output(index)), _bits(result.output(index)))
    features = result.read(buffers[0]).reshape(2, -1)
    assert np.array_equal(result.read(fc_out), reference("int8", features, fc["b"],
                                                         out_dtype="int32"))
    assert len(np.unique(result.read(buffers[0]))) > 20


def test_commands_layer_fields():
    """A commands layer records the list's length and output (its address comes at run())."""
    job = Job(CONFIG, max_layers=2)
    out = job.empty((4,), np.int32)
    words = [[npu_job.KIND_COMMANDS] * 8] * 3
    job.commands(words, out)
    layer = job.layers[0]["fields"]
    assert (layer["kind"], layer["m"], layer["out"]) == (npu_job.KIND_COMMANDS, 3, out.addr)
    with pytest.raises(UserError, match="8-word"):
        job.commands([[1, 2, 3]], out)


def test_list_layers_go_to_main_memory_without_a_list_port(tmp_path):
    """Without ``npu_list_port`` a list layer (``as_list``) is the same descriptors in main
    memory, where the NPU's DMA fetches them: placed at once, never moved to on-chip RAM by
    run() (with the port, run() places it like a commands layer: the next test)."""
    from dure.sim.verif.elfmaker import make_elf

    config = dataclasses.replace(CONFIG, npu_list_port=False)
    ram = config.region("ram").base
    elf = tmp_path / "p.elf"
    elf.write_bytes(make_elf([(ram, bytes(100), 100)], ram))
    job = Job(config, max_layers=2)
    out = job.empty((4,), np.int32)
    words = np.arange(16, dtype=np.uint32).reshape(2, 8)
    job.commands(words, out, as_list=True)
    addr = job.layers[0]["spec"]["addr"]
    main = config.region("main")
    assert main.base <= addr and addr + 64 <= main.end
    assert (addr, words.tobytes()) in job.data_segments()
    assert job._place_lists(elf) == []
    fields = job.layers[0]["fields"]
    assert (fields["kind"], fields["m"], fields["a"]) == (npu_job.KIND_LIST, 2, addr)


def test_commands_lists_go_to_ram_after_the_image(tmp_path):
    """run() puts the lists in on-chip RAM after the firmware image (a stand-in image here)
    while they fit below the stack reserve, else in main memory."""
    from dure.sim.verif.elfmaker import make_elf

    ram = CONFIG.region("ram").base
    elf = tmp_path / "p.elf"
    elf.write_bytes(make_elf([(ram, bytes(100), 100)], ram))
    job = Job(CONFIG, max_layers=2)
    out = job.empty((4,), np.int32)
    job.commands([list(range(8))] * 2, out)
    placed = job._place_lists(elf)
    assert placed == [(ram + 112, np.arange(8, dtype=np.uint32).tobytes() * 2)]
    assert job.layers[0]["fields"]["a"] == ram + 112
    big = Job(CONFIG, max_layers=1)
    big.commands(np.zeros((CONFIG.ram_size // 32, 8), np.uint32), out)
    assert big._place_lists(elf) == []
    assert big.layers[0]["fields"]["a"] >= CONFIG.region("main").base

"""The NPU job format (sim/npu_job.py), its generated C header, and jobs run on the simulated SoC
through the npu_job firmware: every output type, odd shapes, K larger than the array, ties,
fp16 specials, a chained layer and the CPU-path check, all bit-exact against dure.sim.golden."""

import struct
import subprocess

import numpy as np
import pytest
from dure.sim import npu_job
from dure.sim.npu_job import Job, reference

from dure.config import preset
from dure.errors import UserError

CONFIG = preset("npu-small")   # the test suite's NPU variant (tests/conftest.py)


def _bits(x):
    return x.view(f"u{x.dtype.itemsize}")


def test_header_compiles_and_matches_the_fields(tmp_path):
    text = npu_job.generate_header(CONFIG)
    (tmp_path / "npu_job.h").write_text(text)
    probe = tmp_path / "probe.c"
    probe.write_text('#include "npu_job.h"\n#include <stddef.h>\n'
                     f"_Static_assert(offsetof(struct npu_job_layer, cpu_out) == "
                     f"{4 * npu_job.LAYER_FIELDS.index('cpu_out')}, \"cpu_out\");\n"
                     f"_Static_assert(offsetof(struct npu_job_layer, perf_stall_out_hi) == "
                     f"{4 * (npu_job.LAYER_WORDS - 1)}, \"last\");\n"
                     "int main(void) { return 0; }\n")
    subprocess.run(["gcc", "-std=c11", "-fsyntax-only", f"-I{tmp_path}", str(probe)],
                   check=True)
    assert f"#define NPU_JOB_TABLE_ADDR 0x{CONFIG.region('main').base:08X}u" in text
    assert f"#define NPU_JOB_MAGIC 0x{npu_job.MAGIC:08X}u" in text


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

"""A TFLite INT8 dense layer (FULLY_CONNECTED) on the simulated iCEBreaker SoC with its
dot-product unit (``icebreaker-elf``: the ``icebreaker`` preset without the boot ROM, so the
simulator starts the ELF directly): firmware/dot_apps/dot_dense runs the layer with the unit
streaming its operands from main memory and on the core alone; both outputs must equal the
fixed-point FULLY_CONNECTED (:func:`dure.sim.golden_tflite.fully_connected_int8_fixed`, the
single-rounding form the firmware implements) bit for bit, and the cycles
of the two are reported (the unit's run must be the faster)."""

import struct
import subprocess
import sys

import numpy as np
import pytest
from dure.sim.golden_tflite import fully_connected_int8_fixed
from dure.sim.golden_tflite_params import fully_connected_multipliers
from dure.sim.verif.firmware_build import BUILD, FIRMWARE

from dure import header
from dure.config import preset

VARIANT = "icebreaker-elf"
CONFIG = preset(VARIANT)
MAIN = CONFIG.region("main").base
MAGIC = 0x44544F44
#: Words of the parameter block (firmware/dot_apps/dot_dense/main.c) before the data.
BLOCK_BYTES = 128
#: The two runs of the program, in order.
RUNS = ("dot", "cpu")


@pytest.fixture(scope="module")
def elf():
    """dot_dense.elf linked for the variant's memories, built with its generated headers (the
    firmware library compiles npu.c, which includes ``dure_npu.h``, on every variant)."""
    include = BUILD.parent / f"include-{VARIANT}"
    build = BUILD.parent / "firmware-dot"
    include.mkdir(parents=True, exist_ok=True)
    for name, text in (("dure_soc.h", header.generate_header(CONFIG)),
                       ("dure_npu.h", header.generate_npu_header(CONFIG))):
        path = include / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    done = subprocess.run(["make", "-s", "-C", str(FIRMWARE), f"PY={sys.executable}",
                           f"BUILD={build}", f"GEN_INCLUDE={include}",
                           f"PROGRAM_DIRS={FIRMWARE / 'dot_apps'}"],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.fail(f"firmware build failed:\n{done.stdout}\n{done.stderr}")
    return build / "dot_dense.elf"


def _layer(rng, batch, k, units, *, input_zp, output_zp, lo=-128, hi=127, bias=True,
           extreme=False):
    x = rng.integers(-128, 128, (batch, k)).astype(np.int8)
    w = rng.integers(-127, 128, (units, k)).astype(np.int8)
    if extreme:
        x[:] = -128
        w[:] = -128
    b = rng.integers(-50_000, 50_000, units).astype(np.int32) if bias else None
    scales = rng.uniform(0.002, 0.02, units).astype(np.float32)
    mult, shift = fully_connected_multipliers(0.05, scales, rng.uniform(0.5, 4.0), units)
    return dict(x=x, w=w, bias=b, input_zero_point=input_zp, output_zero_point=output_zp,
                multiplier=mult.astype(np.int32), shift=shift.astype(np.int32), lo=lo, hi=hi)


def _place(layer):
    """The parameter block and the data segments in main memory, and the two output ranges."""
    x, w, b = layer["x"], layer["w"], layer["bias"]
    batch, k = x.shape
    units = w.shape[0]
    offsets, blobs, at = {}, [], BLOCK_BYTES
    empty = np.zeros((batch, units), np.int8)
    for name, array in (("x", x), ("w", w), ("bias", b), ("mult", layer["multiplier"]),
                        ("shift", layer["shift"]), ("scratch", np.full(k, 0x5A, np.uint8)),
                        *((name, empty) for name in RUNS)):
        if array is None:
            offsets[name] = 0
            continue
        offsets[name] = at
        data = array.tobytes()
        blobs.append((MAIN + at, data))
        at += (len(data) + 3) // 4 * 4
    assert at <= CONFIG.main_size
    words = [MAGIC, batch, k, units, layer["input_zero_point"], layer["output_zero_point"],
             layer["lo"], layer["hi"], offsets["x"], offsets["w"], offsets["bias"],
             offsets["mult"], offsets["shift"], offsets["scratch"],
             *(offsets[name] for name in RUNS)]
    block = struct.pack(f"<{len(words)}I", *[v & 0xFFFF_FFFF for v in words])
    outputs = [(MAIN + offsets[n], batch * units) for n in RUNS]
    return [(MAIN, block), *blobs], outputs


def _run(elf, layer):
    from dure.sim.runner import run_elf

    data, outputs = _place(layer)
    results = (MAIN + 16 * 4, 6 * 4)
    result = run_elf(elf, CONFIG, max_cycles=20_000_000, data=data, dumps=[*outputs, results])
    counts = struct.unpack("<6i", result.dumps[results])
    shape = layer["x"].shape[0], layer["w"].shape[0]
    ys = {n: np.frombuffer(result.dumps[r], np.int8).reshape(shape)
          for n, r in zip(RUNS, outputs, strict=True)}
    return result, ys, {n: dict(cycles=counts[i], instret=counts[2 + i], status=counts[4 + i])
                        for i, n in enumerate(RUNS)}


CASES = {
    # A per-channel MLP layer with batch 4, input zero point, bias.
    "batch4": dict(batch=4, k=64, units=16, input_zp=-5, output_zp=3),
    # Batch 1 (GEMV), no input zero point, no bias, ReLU as the clamp at the output zero point.
    "gemv_relu": dict(batch=1, k=256, units=24, input_zp=0, output_zp=-20, lo=-20, bias=False),
    # The largest products and zero point: every (x - zp) * w at its extreme.
    "extreme": dict(batch=2, k=128, units=8, input_zp=127, output_zp=0, extreme=True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_dense_layer_bit_exact_and_faster(elf, name):
    params = dict(CASES[name])
    rng = np.random.default_rng(sorted(CASES).index(name) + 16)
    layer = _layer(rng, params.pop("batch"), params.pop("k"), params.pop("units"), **params)
    golden = fully_connected_int8_fixed(layer["x"], layer["w"], layer["bias"],
                                  input_zero_point=layer["input_zero_point"],
                                  output_zero_point=layer["output_zero_point"],
                                  multiplier=layer["multiplier"], shift=layer["shift"],
                                  lo=layer["lo"], hi=layer["hi"])
    result, ys, counts = _run(elf, layer)
    uart = result.uart.decode("latin-1")
    assert result.status == "pass", f"{result.status} {result.failure}\n{uart}"
    assert [counts[n]["status"] for n in RUNS] == [0, 0]
    for run in RUNS:
        np.testing.assert_array_equal(ys[run], golden, err_msg=run)
    assert len(np.unique(golden)) > 2 or name == "extreme"     # not a saturated output
    macs = layer["x"].shape[0] * layer["w"].size
    cpu = counts["cpu"]["cycles"]
    print(f"{name}: {macs} MACs; " + ", ".join(
        f"{run} {counts[run]['cycles']} cycles ({macs / counts[run]['cycles']:.3f} MAC/cycle, "
        f"x{cpu / counts[run]['cycles']:.2f})" for run in RUNS))
    assert counts["dot"]["cycles"] * 4 < cpu


def test_unaligned_depth_refused(elf):
    """K not a multiple of 4: the unit's function refuses (exit: fail 1) before writing y; the
    core's loop takes it."""
    layer = _layer(np.random.default_rng(3), 1, 6, 4, input_zp=0, output_zp=0)
    result, ys, counts = _run(elf, layer)
    assert (result.status, result.failure) == ("fail", 1)
    assert [counts[n]["status"] for n in RUNS] == [-1, 0]
    assert not ys["dot"].any()

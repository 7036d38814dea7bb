"""`dure gemm` input validation: every bad input gives exit status 2 and one line naming the file
and the problem, before any simulation starts."""

import numpy as np
import pytest
from dure.sim import golden

from dure.cli import main


@pytest.fixture
def files(tmp_path):
    """Write arrays as .npy files: ``files(name=array, ...) -> {name: path}``."""
    def write(**arrays):
        paths = {}
        for name, array in arrays.items():
            path = tmp_path / f"{name}.npy"
            np.save(path, array)
            paths[name] = path
        return paths
    return write


def _i8(*shape):
    return np.ones(shape, np.int8)


def _f16(*shape):
    return np.ones(shape, np.float16)


def _run(capsys, tmp_path, paths, *extra):
    argv = ["gemm", "--a", str(paths["a"]), "--b", str(paths["b"]),
            "--out", str(tmp_path / "c.npy"), *map(str, extra)]
    status = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return status, err


CASES = [
    # (arrays, extra args, expected fragment)
    (dict(a=np.ones((4, 3), np.float32), b=_i8(3, 2)), ["--precision", "int8", "--scale", "s"],
     "a.npy: dtype float32, but A for int8 precision must be int8"),
    (dict(a=_i8(4, 3), b=_f16(3, 2)), ["--precision", "int8", "--scale", "s"],
     "b.npy: dtype float16, but B for int8 precision must be int8"),
    (dict(a=_i8(4, 3), b=_i8(3, 2)), ["--precision", "fp16"],
     "a.npy: dtype int8, but A for fp16 precision must be float16"),
    (dict(a=_i8(4), b=_i8(4, 2)), ["--precision", "int8", "--out-dtype", "int32"],
     "a.npy: shape (4,), but A for int8 precision must be 2-D"),
    (dict(a=_i8(4, 3), b=_i8(4, 2)), ["--precision", "int8", "--out-dtype", "int32"],
     "b.npy: shape (4, 2) does not chain with"),
    (dict(a=_i8(0, 3), b=_i8(3, 2)), ["--precision", "int8", "--out-dtype", "int32"],
     "a.npy: shape (0, 3) has a zero dimension"),
    (dict(a=_i8(4, 3), b=_i8(3, 2), bias=np.ones(2, np.float32)),
     ["--precision", "int8", "--out-dtype", "int32", "--bias", "bias"],
     "bias.npy: dtype float32, but the bias for int8 precision must be int32"),
    (dict(a=_f16(4, 3), b=_f16(3, 2), bias=np.ones(2, np.int32)),
     ["--precision", "fp16", "--bias", "bias"],
     "bias.npy: dtype int32, but the bias for fp16 precision must be float32"),
    (dict(a=_i8(4, 3), b=_i8(3, 2), bias=np.ones(3, np.int32)),
     ["--precision", "int8", "--out-dtype", "int32", "--bias", "bias"],
     "bias.npy: shape (3,), but the bias needs N=2 values"),
    (dict(a=_i8(4, 3), b=_i8(3, 2)), ["--precision", "int8"],
     "int8 precision with int8 output needs --scale"),
    (dict(a=_i8(4, 3), b=_i8(3, 2)), ["--precision", "int8", "--out-dtype", "fp16"],
     "int8 precision with fp16 output needs --scale"),
    (dict(a=_i8(4, 3), b=_i8(3, 2), s=np.ones(2, np.float32)),
     ["--precision", "int8", "--out-dtype", "int32", "--scale", "s"],
     "s.npy: int32 output is the raw accumulator and takes no scale"),
    (dict(a=_i8(4, 3), b=_i8(3, 2), s=np.ones(2, np.float64)),
     ["--precision", "int8", "--scale", "s"], "s.npy: dtype float64, but the scale must be"),
    (dict(a=_i8(4, 3), b=_i8(3, 2), s=np.ones(5, np.float32)),
     ["--precision", "int8", "--scale", "s"], "s.npy: shape (5,), but the scale needs N=2"),
    (dict(a=_i8(4, 3), b=_i8(3, 2), s=np.array([1, np.inf], np.float32)),
     ["--precision", "int8", "--scale", "s"], "s.npy: scales must be finite"),
    (dict(a=_f16(4, 3), b=_f16(3, 2)), ["--precision", "fp16", "--out-dtype", "int8"],
     "--out-dtype int8 is not available with fp16 precision"),
    (dict(a=_i8(4, 3), b=_i8(3, 2)), ["--precision", "int8", "--out-dtype", "fp32"],
     "--out-dtype fp32 is not available with int8 precision"),
    (dict(a=_i8(4, 3), b=_i8(3, 2), s=np.ones(2, np.float32)),
     ["--precision", "int8", "--scale", "s", "--zero-point", "200"],
     "--zero-point 200: must be in [-128, 127]"),
    (dict(a=_f16(4, 3), b=_f16(3, 2)), ["--precision", "fp16", "--zero-point", "3"],
     "--zero-point applies to int8 output only"),
    (dict(a=_i8(4, 3), b=_i8(3, 2), s=np.ones(2, np.float32)),
     ["--precision", "int8", "--scale", "s", "--clamp", "5"], "--clamp 5: give LO,HI"),
    (dict(a=_i8(4, 3), b=_i8(3, 2), s=np.ones(2, np.float32)),
     ["--precision", "int8", "--scale", "s", "--clamp", "0.5,3"], "needs integer bounds"),
    (dict(a=_i8(4, 3), b=_i8(3, 2), s=np.ones(2, np.float32)),
     ["--precision", "int8", "--scale", "s", "--clamp", "10,-3"], "-128 <= LO <= HI <= 127"),
    (dict(a=_i8(4, 3), b=_i8(3, 2)), ["--precision", "int8", "--out-dtype", "int32",
                                      "--clamp", "0,5"], "int32 output is the raw accumulator"),
    (dict(a=_f16(4, 3), b=_f16(3, 2)), ["--precision", "fp16", "--clamp", "nan,1"],
     "must not be NaN and LO <= HI"),
    (dict(a=_f16(4, 3), b=_f16(3, 2)), ["--precision", "fp16", "--clamp", "x,1"],
     "bounds must be numbers"),
]


@pytest.mark.parametrize("arrays, extra, fragment", CASES)
def test_bad_inputs(capsys, tmp_path, files, arrays, extra, fragment):
    paths = files(**arrays)
    extra = [str(paths[e]) if e in paths and e not in ("a", "b") else e for e in extra]
    status, err = _run(capsys, tmp_path, paths, *extra)
    assert status == 2
    assert len(err) == 1, err
    assert fragment in err[0]
    assert not (tmp_path / "c.npy").exists()


def test_missing_and_unreadable_files(capsys, tmp_path, files):
    paths = files(b=_i8(3, 2))
    paths["a"] = tmp_path / "nope.npy"
    status, err = _run(capsys, tmp_path, paths, "--precision", "int8")
    assert status == 2 and err == [f"dure: {paths['a']}: no such file (A)"]
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    paths["a"] = tmp_path / "junk.npy"
    status, err = _run(capsys, tmp_path, paths, "--precision", "int8")
    assert status == 2 and len(err) == 1 and "junk.npy: not a readable .npy array (A)" in err[0]


def test_object_arrays_are_refused(capsys, tmp_path, files):
    paths = files(b=_i8(3, 2))
    np.save(tmp_path / "obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    paths["a"] = tmp_path / "obj.npy"
    status, err = _run(capsys, tmp_path, paths, "--precision", "int8")
    assert status == 2 and len(err) == 1 and "obj.npy: not a readable .npy array" in err[0]


def test_output_name_and_folder(capsys, tmp_path, files):
    paths = files(a=_i8(4, 3), b=_i8(3, 2))
    for out, fragment in ((tmp_path / "c.txt", "must end in .npy"),
                          (tmp_path / "missing" / "c.npy", "cannot write there")):
        status = main(["gemm", "--a", str(paths["a"]), "--b", str(paths["b"]), "--precision",
                       "int8", "--out-dtype", "int32", "--out", str(out)])
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 2 and len(err) == 1 and fragment in err[0]


def _gemm_case(files):
    """A small INT8 GEMM with bias, scale, zero point and clamp (the int8 output path)."""
    rng = np.random.default_rng(12)
    a = rng.integers(-128, 128, (5, 11), dtype=np.int8)
    b = rng.integers(-128, 128, (11, 6), dtype=np.int8)
    bias = rng.integers(-3000, 3000, 6, dtype=np.int32)
    scale = (rng.random(6) * 0.01 + 0.001).astype(np.float32)
    paths = files(a=a, b=b, bias=bias, scale=scale)
    extra = ["--precision", "int8", "--bias", paths["bias"], "--scale", paths["scale"],
             "--zero-point=-3", "--clamp=-100,90", "--variant", "npu-small", "--check"]
    want = golden.requantize(golden.gemm_int8(a, b, bias=bias), scale, -3, -100, 90)
    return paths, extra, want


def test_success_path_writes_the_golden_result(capsys, tmp_path, files):
    """`dure gemm --check` on the simulated SoC: exit 0, the .npy holds the golden result bit
    for bit, and the report names cycles, MACs and the bit-exact check."""
    paths, extra, want = _gemm_case(files)
    status = main(["gemm", "--a", str(paths["a"]), "--b", str(paths["b"]),
                   "--out", str(tmp_path / "c.npy"), *map(str, extra)])
    out = capsys.readouterr().out
    assert status == 0, out
    c = np.load(tmp_path / "c.npy")
    assert c.dtype == np.int8 and c.shape == (5, 6)
    np.testing.assert_array_equal(c, want)
    assert "MACs 330" in out
    assert "check: bit-exact with dure.sim.golden (30 elements)" in out


def test_check_mismatch_exits_1(capsys, tmp_path, files, monkeypatch):
    """A reference that differs in one element makes `--check` report it and exit 1."""
    from dure.sim import npu_job

    honest = npu_job.reference

    def off_by_one(**spec):
        want = honest(**spec).copy()
        want[2, 3] = want[2, 3] ^ 1
        return want

    monkeypatch.setattr(npu_job, "reference", off_by_one)
    paths, extra, _ = _gemm_case(files)
    status = main(["gemm", "--a", str(paths["a"]), "--b", str(paths["b"]),
                   "--out", str(tmp_path / "c.npy"), *map(str, extra)])
    out = capsys.readouterr().out
    assert status == 1, out
    assert "check: MISMATCH in 1 of 30 elements; first at [2, 3]" in out


# --- --weight-format -------------------------------------------------------------------------

def _sparse_b(rng, k, n, lo, hi):
    w = rng.integers(lo, hi + 1, (k, n)).astype(np.int8)
    keep = rng.random((k // 4, 4, n)).argsort(axis=1) < 2
    return np.where(keep.reshape(k, n), w, 0).astype(np.int8)


_Q_BAD = np.zeros((8, 4), np.int8)
_Q_BAD[5, 1] = -9
_NOT_24 = np.zeros((8, 4), np.int8)
_NOT_24[4:7, 2] = 1

WEIGHT_CASES = [
    (dict(a=_i8(2, 8), b=_Q_BAD), ["--weight-format", "int4"],
     "b.npy: int4 weights must lie in [-8, 7]; B[5, 1] = -9"),
    (dict(a=_i8(2, 8), b=_Q_BAD), ["--weight-format", "int4-sparse24"],
     "b.npy: int4 weights must lie in [-8, 7]; B[5, 1] = -9"),
    (dict(a=_i8(2, 8), b=_NOT_24), ["--weight-format", "int8-sparse24"],
     "b.npy: B is not 2:4 sparse: column 2, rows 4..7 hold 3 non-zero values"),
    (dict(a=_i8(2, 6), b=_i8(6, 4)), ["--weight-format", "int8-sparse24"],
     "K % 4 == 0, not K = 6"),
    (dict(a=_f16(2, 8), b=_i8(8, 4)), ["--precision", "fp16", "--weight-format",
                                       "int8-sparse24"], "fp16 precision takes int4 weights"),
    (dict(a=_f16(2, 8), b=_i8(8, 4)), ["--precision", "fp16", "--weight-format", "int4"],
     "needs --group-size and --weight-scales"),
    (dict(a=_f16(2, 8), b=_i8(8, 4), s=np.ones((1, 4), np.float16)),
     ["--precision", "fp16", "--weight-format", "int4", "--group-size", "16",
      "--weight-scales", "s"], "--group-size 16: must be one of 32, 64, 128"),
    (dict(a=_f16(2, 40), b=_i8(40, 4), s=np.ones((1, 4), np.float16)),
     ["--precision", "fp16", "--weight-format", "int4", "--group-size", "32",
      "--weight-scales", "s"], "s.npy: scales must have shape (2, 4)"),
    (dict(a=_f16(2, 8), b=_i8(8, 4), s=np.full((1, 4), np.inf, np.float16)),
     ["--precision", "fp16", "--weight-format", "int4", "--group-size", "32",
      "--weight-scales", "s"], "s.npy: scales must be finite"),
    (dict(a=_f16(2, 8), b=_f16(8, 4), s=np.ones((1, 4), np.float16)),
     ["--precision", "fp16", "--weight-format", "int4", "--group-size", "32",
      "--weight-scales", "s"], "b.npy: dtype float16, but B for int4 weights"),
    (dict(a=_i8(2, 8), b=_i8(8, 4)), ["--group-size", "32"], "are for W4A16"),
]


@pytest.mark.parametrize("arrays, extra, fragment", WEIGHT_CASES)
def test_bad_weight_formats(capsys, tmp_path, files, arrays, extra, fragment):
    paths = files(**arrays)
    extra = [str(paths[e]) if e in paths and e not in ("a", "b") else e for e in extra]
    if "--precision" not in extra:
        extra = ["--precision", "int8", "--out-dtype", "int32", *extra]
    status, err = _run(capsys, tmp_path, paths, *extra)
    assert status == 2
    assert len(err) == 1, err
    assert fragment in err[0], err[0]
    assert not (tmp_path / "c.npy").exists()


@pytest.mark.parametrize("fmt", ["int4", "int8-sparse24", "int4-sparse24", "w4a16"])
def test_weight_formats_on_the_soc(capsys, tmp_path, files, fmt):
    """`dure gemm --weight-format ... --check` on the simulated SoC (npu-small): exit 0, the
    output equals the golden W4A8 / 2:4 / W4A16 GEMM bit for bit (computed here from
    dure.sim.golden_int4 / golden_sparse24), and fewer weight bytes move than dense."""
    from dure.sim import golden_int4, golden_sparse24

    rng = np.random.default_rng(len(fmt))
    m, k, n = 3, 72, 10
    extra = ["--variant", "npu-small", "--check"]
    if fmt == "w4a16":
        a = rng.standard_normal((m, k)).astype(np.float16)
        b = rng.integers(-8, 8, (k, n)).astype(np.int8)
        s = (rng.standard_normal((2, n)) / 16).astype(np.float16)
        paths = files(a=a, b=b, s=s)
        extra += ["--precision", "fp16", "--weight-format", "int4", "--group-size", "64",
                  "--weight-scales", paths["s"], "--out-dtype", "fp32"]
        want = golden_int4.gemm_w4a16(a, b, s, 64)
    else:
        a = rng.integers(-128, 128, (m, k), dtype=np.int8)
        lo, hi = (-128, 127) if fmt == "int8-sparse24" else (-8, 7)
        b = _sparse_b(rng, k, n, lo, hi) if "sparse" in fmt else \
            rng.integers(lo, hi + 1, (k, n)).astype(np.int8)
        paths = files(a=a, b=b)
        extra += ["--precision", "int8", "--weight-format", fmt, "--out-dtype", "int32"]
        want = golden_int4.gemm_w4a8(a, b) if fmt == "int4" else \
            golden_sparse24.gemm_sparse24_int8(a, *golden_sparse24.compress_24(b))
    status = main(["gemm", "--a", str(paths["a"]), "--b", str(paths["b"]),
                   "--out", str(tmp_path / "c.npy"), *map(str, extra)])
    out = capsys.readouterr().out
    assert status == 0, out
    c = np.load(tmp_path / "c.npy")
    assert np.array_equal(golden.bits(c), golden.bits(want))
    assert f"check: bit-exact with dure.sim.golden ({m * n} elements)" in out
    assert "bytes in main memory" in out


@pytest.mark.parametrize("fmt", ["int8", "int4", "int8-sparse24", "int4-sparse24"])
def test_gemv_plan_on_the_soc(capsys, tmp_path, files, fmt):
    """M = 1, int32 output, --weight-format int8 / int4 / 2:4: the transposed GEMV plan on the
    SoC (2:4 on the lane-grouped LOADs), bit-exact with the golden GEMM (with a bias)."""
    rng = np.random.default_rng(7)
    k, n = 52, 37
    a = rng.integers(-128, 128, (1, k), dtype=np.int8)
    bound = 8 if fmt.startswith("int4") else 128
    b = rng.integers(-bound, bound, (k, n)).astype(np.int8)
    if "sparse24" in fmt:
        keep = rng.random((k // 4, 4, n)).argsort(axis=1) < rng.integers(0, 3, (k // 4, 1, n))
        b = np.where(keep.reshape(k, n), b, 0).astype(np.int8)
    bias = rng.integers(-999, 999, n, dtype=np.int32)
    paths = files(a=a, b=b, bias=bias)
    status = main(["gemm", "--a", str(paths["a"]), "--b", str(paths["b"]), "--bias",
                   str(paths["bias"]), "--precision", "int8", "--out-dtype", "int32",
                   "--weight-format", fmt, "--variant", "npu-small", "--check",
                   "--out", str(tmp_path / "c.npy")])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "GEMV plan" in out
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), golden.gemm_int8(a, b, bias))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["int8-sparse24", "int4-sparse24"])
def test_gemv_skips_the_zero_macs_on_the_sim_soc(capsys, tmp_path, files, fmt):
    """On the `sim` SoC (built with the gather path) the 2:4 GEMV takes the gather plan: LOAD
    keep, COMPUTE gather, STORE lane_sum; bit-exact with the golden GEMM (with a bias), over a
    partial last k tile (K = 72 = 4 x 16 + 8) and edge values."""
    rng = np.random.default_rng(11)
    k, n = 72, 45
    a = rng.integers(-128, 128, (1, k), dtype=np.int8)
    a[0, :8] = [-128, 127] * 4
    lo, hi = (-8, 7) if fmt.startswith("int4") else (-128, 127)
    b = rng.choice(np.array([lo, hi, -1, 1, 3], np.int8), (k, n))
    keep = rng.random((k // 4, 4, n)).argsort(axis=1) < rng.integers(0, 3, (k // 4, 1, n))
    b = np.where(keep.reshape(k, n), b, 0).astype(np.int8)
    bias = rng.integers(-2**31, 2**31, n, dtype=np.int64).astype(np.int32)
    paths = files(a=a, b=b, bias=bias)
    status = main(["gemm", "--a", str(paths["a"]), "--b", str(paths["b"]), "--bias",
                   str(paths["bias"]), "--precision", "int8", "--out-dtype", "int32",
                   "--weight-format", fmt, "--variant", "sim", "--check",
                   "--out", str(tmp_path / "c.npy")])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "zero MACs skipped" in out
    assert ("shared base-6 codes" in out) == fmt.startswith("int4")
    np.testing.assert_array_equal(np.load(tmp_path / "c.npy"), golden.gemm_int8(a, b, bias))

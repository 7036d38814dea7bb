"""``dure gemm``: one GEMM from .npy files on the simulated SoC's NPU (through the npu_job
firmware), the result to .npy, with cycles, MACs and utilization; ``--check`` compares it bit
for bit with dure.sim.golden."""

import os
import pathlib
import sys

import numpy as np

from ..config import preset
from ..errors import UserError

NAME = "gemm"
HELP = ("run C = post(A x B + bias) on the simulated NPU from .npy files; print cycles and "
        "utilization; --check compares with the golden model bit for bit")

_OPERAND = {"int8": np.int8, "fp16": np.float16}
_BIAS = {"int8": np.int32, "fp16": np.float32}


def add_arguments(parser):
    parser.add_argument("--a", required=True, type=pathlib.Path, metavar="A.npy",
                        help="left operand (M, K): int8 or float16")
    parser.add_argument("--b", required=True, type=pathlib.Path, metavar="B.npy",
                        help="right operand (K, N): int8 or float16")
    parser.add_argument("--precision", required=True, choices=["int8", "fp16"])
    parser.add_argument("--bias", type=pathlib.Path, metavar="BIAS.npy",
                        help="(N,) int32 (int8 precision) or float32 (fp16 precision)")
    parser.add_argument("--scale", type=pathlib.Path, metavar="SCALE.npy",
                        help="(N,) float32 per-channel scale (required for int8 -> int8/fp16)")
    parser.add_argument("--zero-point", type=int, default=0, metavar="Z",
                        help="output zero point for int8 output (default 0)")
    parser.add_argument("--clamp", metavar="LO,HI",
                        help="clamp: integers for int8 output, floats for fp16/fp32 output")
    parser.add_argument("--out-dtype", choices=["int8", "int32", "fp16", "fp32"],
                        help="output type (default: int8 for int8 precision, fp16 for fp16)")
    parser.add_argument("--weight-format", choices=["int8", "int4", "int8-sparse24",
                                                    "int4-sparse24"],
                        help="how B travels to the NPU: packed on the host, unpacked by the "
                        "NPU's LOAD (int4 values given as int8 in [-8, 7]; sparse24: at most 2 "
                        "non-zeros in every 4 consecutive k of a column); with --precision fp16 "
                        "only int4 (W4A16: --group-size, --weight-scales); int8 / int4 with "
                        "M = 1 and int32 output run the GEMV plan (weights streamed)")
    parser.add_argument("--group-size", type=int, metavar="G",
                        help="W4A16: k per fp16 scale group (32, 64 or 128)")
    parser.add_argument("--weight-scales", type=pathlib.Path, metavar="S.npy",
                        help="W4A16: (ceil(K/G), N) float16 scales")
    parser.add_argument("--out", required=True, type=pathlib.Path, metavar="C.npy",
                        help="where to write the result")
    parser.add_argument("--check", action="store_true",
                        help="compare with dure.sim.golden bit for bit (exit 1 on a mismatch)")
    parser.add_argument("--cpu-check", action="store_true",
                        help="also run the firmware's CPU reference path and compare (slow)")
    parser.add_argument("--variant", default="sim", help="SoC variant (default: sim)")
    parser.add_argument("--max-cycles", type=int, default=500_000_000, metavar="N",
                        help="cycle limit of the simulation (default 500M)")


def _load(path, what):
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file ({what})") from None
    except (OSError, ValueError, EOFError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"{path}: not a readable .npy array ({what}): {reason}") from None
    if not isinstance(array, np.ndarray):
        raise UserError(f"{path}: holds several arrays (.npz), not one .npy array ({what})")
    return np.ascontiguousarray(array)


def _want(path, array, dtype, shape_text, ndim):
    dtype = np.dtype(dtype)
    if array.dtype != dtype:
        raise UserError(f"{path}: dtype {array.dtype}, but {shape_text} must be {dtype.name}")
    if array.ndim != ndim:
        raise UserError(f"{path}: shape {array.shape}, but {shape_text} must be {ndim}-D")
    if 0 in array.shape:
        raise UserError(f"{path}: shape {array.shape} has a zero dimension")


def _clamp(text, out_dtype):
    if text is None:
        return None, None
    parts = text.split(",")
    if len(parts) != 2:
        raise UserError(f"--clamp {text}: give LO,HI (two values separated by a comma)")
    if out_dtype == "int32":
        raise UserError("--clamp: int32 output is the raw accumulator, it takes no clamp")
    if out_dtype == "int8":
        try:
            lo, hi = (int(p) for p in parts)
        except ValueError:
            raise UserError(f"--clamp {text}: int8 output needs integer bounds") from None
        if not -128 <= lo <= hi <= 127:
            raise UserError(f"--clamp {text}: int8 bounds need -128 <= LO <= HI <= 127")
        return lo, hi
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise UserError(f"--clamp {text}: bounds must be numbers") from None
    if np.isnan(lo) or np.isnan(hi) or np.float32(lo) > np.float32(hi):
        raise UserError(f"--clamp {text}: bounds must not be NaN and LO <= HI")
    return lo, hi


def validate(args):
    """Load and check every input; return the keyword arguments of ``Job.gemm``."""
    precision = args.precision
    out_dtype = args.out_dtype or ("int8" if precision == "int8" else "fp16")
    legal = {"int8": ("int8", "int32", "fp16"), "fp16": ("fp16", "fp32")}[precision]
    if out_dtype not in legal:
        raise UserError(f"--out-dtype {out_dtype} is not available with {precision} precision "
                        f"(choose {', '.join(legal)})")
    a = _load(args.a, "A")
    _want(args.a, a, _OPERAND[precision], f"A for {precision} precision", 2)
    b = _load(args.b, "B")
    fmt = args.weight_format
    w4a16 = precision == "fp16" and fmt == "int4"
    if precision == "fp16" and fmt not in (None, "int4"):
        raise UserError(f"--weight-format {fmt}: fp16 precision takes int4 weights (W4A16) "
                        "or dense fp16 B")
    if (args.group_size is not None or args.weight_scales is not None) and not w4a16:
        raise UserError("--group-size and --weight-scales are for W4A16 (--precision fp16 "
                        "--weight-format int4)")
    if w4a16:
        _want(args.b, b, np.int8, "B for int4 weights (values in [-8, 7])", 2)
    else:
        _want(args.b, b, _OPERAND[precision], f"B for {precision} precision", 2)
    if b.shape[0] != a.shape[1]:
        raise UserError(f"{args.b}: shape {b.shape} does not chain with {args.a} {a.shape}: "
                        f"B needs K={a.shape[1]} rows")
    n = b.shape[1]
    bias = scale = None
    if args.bias is not None:
        bias = _load(args.bias, "bias")
        _want(args.bias, bias, _BIAS[precision], f"the bias for {precision} precision", 1)
        if bias.shape != (n,):
            raise UserError(f"{args.bias}: shape {bias.shape}, but the bias needs N={n} values")
    # the STORE table: INT8 -> int8 / fp16 need a scale, INT8 -> int32 forbids it, FP16 optional
    needs_scale = (out_dtype != "int32") if precision == "int8" else None
    if args.scale is not None:
        if needs_scale is False:
            raise UserError(f"{args.scale}: int32 output is the raw accumulator and takes no "
                            "scale")
        scale = _load(args.scale, "scale")
        _want(args.scale, scale, np.float32, "the scale", 1)
        if scale.shape != (n,):
            raise UserError(f"{args.scale}: shape {scale.shape}, but the scale needs N={n} "
                            "values")
        if not np.all(np.isfinite(scale)):
            raise UserError(f"{args.scale}: scales must be finite (found NaN or Inf)")
    elif needs_scale:
        raise UserError(f"{precision} precision with {out_dtype} output needs --scale "
                        "SCALE.npy")
    if args.zero_point and out_dtype != "int8":
        raise UserError(f"--zero-point applies to int8 output only, not {out_dtype}")
    if not -128 <= args.zero_point <= 127:
        raise UserError(f"--zero-point {args.zero_point}: must be in [-128, 127]")
    lo, hi = _clamp(args.clamp, out_dtype)
    spec = dict(a=a, b=b, precision=precision, bias=bias, scale=scale,
                zero_point=args.zero_point, lo=lo, hi=hi, out_dtype=out_dtype)
    if fmt is not None and precision == "int8" and a.shape[0] == 1 and out_dtype == "int32":
        from ..sim.weight_formats import pack_weights
        if fmt != "int8":
            try:
                pack_weights(fmt, b)       # the int4 / 2:4 checks and their messages
            except ValueError as error:
                raise UserError(f"{args.b}: {error}") from None
        spec["gemv"] = "dense" if fmt == "int8" else fmt
    elif fmt not in (None, "int8"):
        spec["packed"] = _pack(args, b, precision)
    return spec


def _pack(args, b, precision):
    """The :class:`~dure.sim.weight_formats.PackedWeights` of ``--weight-format``."""
    from ..sim.golden_int4 import GROUP_SIZES
    from ..sim.weight_formats import pack_weights

    scales = None
    if precision == "fp16":
        if args.group_size is not None and args.group_size not in GROUP_SIZES:
            raise UserError(f"--group-size {args.group_size}: must be one of "
                            f"{', '.join(map(str, GROUP_SIZES))}")
        if args.group_size is None or args.weight_scales is None:
            raise UserError("W4A16 (--precision fp16 --weight-format int4) needs --group-size "
                            "and --weight-scales")
        scales = _load(args.weight_scales, "W4A16 scales")
        _want(args.weight_scales, scales, np.float16, "the W4A16 scales", 2)
    try:
        config = preset(args.variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    try:
        return pack_weights(args.weight_format, b, precision=precision, tile=config.npu_cols,
                            scales=scales, group_size=args.group_size)
    except ValueError as error:
        where = args.weight_scales if "scales" in str(error) else args.b
        raise UserError(f"{where}: {error}") from None


def _w4a16_scales(args):
    return np.load(args.weight_scales) if args.weight_scales is not None else None


def _gemv_layer(job, config, spec, fmt, args):
    """M = 1 with raw int32 output and an int8-precision --weight-format (int8, int4, 2:4):
    the transposed GEMV plan (dure.sim.gemv_plan: weights streamed as rows, memory-bound)."""
    from ..sim.gemv_plan import gemv_program

    if args.cpu_check:
        raise UserError("--cpu-check runs the firmware's dense path; it does not take "
                        "--weight-format")
    from ..rtl.npu.commands import KEEP_BASE6_FORMAT, Opcode
    from ..rtl.npu.descriptor import decode

    b = spec["b"]
    said = []

    def build(addrs, out_addr, param_addr):
        program = gemv_program(config, b, precision="int8", fmt=fmt, a_addr=addrs[0],
                               out_addr=out_addr, param_addr=param_addr, bias=spec["bias"])
        fields = list(map(decode, program.descriptors))
        skip = any(op == Opcode.COMPUTE and f["gather"] for op, f in fields)
        base6 = any(op == Opcode.LOAD and f["keep"]
                    and f["weight_format"] == KEEP_BASE6_FORMAT.value for op, f in fields)
        if said:                  # the job may build the program more than once
            return program
        said.append(True)
        print(f"weights: {args.weight_format}, {len(program.blobs[0][1])} bytes in main memory "
              f"({b.size} dense); GEMV plan (weights streamed transposed"
              f"{', zero MACs skipped' if skip else ''}"
              f"{', positions as shared base-6 codes' if base6 else ''})")
        return program

    out, _ = job.layer_program(build, [spec["a"]])
    return out


def _packed_layer(job, config, spec, packed, args):
    """Append the GEMM with packed weights as a prepared command list; returns its output."""
    from ..sim.weight_formats import gemm_program

    if args.cpu_check:
        raise UserError("--cpu-check runs the firmware's dense path; it does not take "
                        "--weight-format")
    m = spec["a"].shape[0]
    dense = spec["b"].size * (2 if spec["precision"] == "fp16" else 1)
    print(f"weights: {args.weight_format}{' (W4A16)' if spec['precision'] == 'fp16' else ''}"
          f", {len(packed.data)} bytes in main memory ({dense} dense)")
    post = {name: spec[name] for name in ("bias", "scale", "zero_point", "lo", "hi")}

    def build(addrs, out_addr, param_addr):
        return gemm_program(config, m, packed, precision=spec["precision"],
                            out_dtype=spec["out_dtype"], a_addr=addrs[0], out_addr=out_addr,
                            param_addr=param_addr, **post)

    out, _ = job.layer_program(build, [spec["a"]])
    return out


def _bits(array):
    return array.view(f"u{array.dtype.itemsize}")


def run(args):
    from ..sim.npu_job import Job, reference

    try:
        config = preset(args.variant)
    except ValueError as error:
        raise UserError(str(error)) from None
    if args.max_cycles < 1:
        raise UserError(f"--max-cycles must be positive, not {args.max_cycles}")
    spec = validate(args)
    folder = args.out.parent
    if args.out.suffix != ".npy":
        raise UserError(f"{args.out}: the output file name must end in .npy")
    if not folder.is_dir() or not os.access(folder, os.W_OK) or args.out.is_dir():
        raise UserError(f"{args.out}: cannot write there (missing or read-only folder)")
    job = Job(config, max_layers=1)
    packed = spec.pop("packed", None)
    gemv = spec.pop("gemv", None)
    if gemv is not None:
        out_buf = _gemv_layer(job, config, spec, gemv, args)
    elif packed is None:
        out_buf = job.gemm(**spec, cpu_check=args.cpu_check)
    else:
        out_buf = _packed_layer(job, config, spec, packed, args)
    print(f"dure gemm: {spec['a'].shape[0]}x{spec['a'].shape[1]}x{spec['b'].shape[1]} "
          f"{spec['precision']} -> {spec['out_dtype']} on the simulated SoC ...",
          file=sys.stderr, flush=True)
    result = job.run(max_cycles=args.max_cycles)
    c = result.read(out_buf)
    np.save(args.out, c)
    stats = result.layers[0]
    m, k = spec["a"].shape
    n = spec["b"].shape[1]
    macs = m * k * n
    peak = config.npu_peak_macs_per_cycle
    rate = macs / stats["cycles"] if stats["cycles"] else 0.0
    print(f"wrote {args.out} ({c.dtype} {c.shape[0]}x{c.shape[1]})")
    print(f"cycles {stats['cycles']}  MACs {macs}  MACs/cycle {rate:.2f}  "
          f"utilization {100 * rate / peak:.1f} % of peak {peak}")
    print(f"NPU busy {stats['busy']}  compute {stats['compute']}  DMA read {stats['dma_rd']} B"
          f"  written {stats['dma_wr']} B  stalls: dep {stats['stall_dep']} mem "
          f"{stats['stall_mem']} out {stats['stall_out']}")
    status = 0
    if args.cpu_check:
        agree = stats["check"] == 1
        print(f"cpu-check: the firmware's CPU path {'agrees' if agree else 'DIFFERS'} "
              f"({stats['cpu_cycles']} cycles)")
        status |= not agree
    if args.check:
        if packed is not None or gemv is not None:
            from ..sim.weight_formats import dense_weights
            spec = dict(spec, b=dense_weights(args.weight_format, spec["b"],
                                              precision=spec["precision"],
                                              scales=_w4a16_scales(args),
                                              group_size=args.group_size))
        want = reference(**spec)
        diff = np.argwhere(_bits(c) != _bits(want))
        if len(diff) == 0:
            print(f"check: bit-exact with dure.sim.golden ({c.size} elements)")
        else:
            i, j = diff[0]
            print(f"check: MISMATCH in {len(diff)} of {c.size} elements; first at [{i}, {j}]: "
                  f"npu 0x{int(_bits(c)[i, j]):x} golden 0x{int(_bits(want)[i, j]):x}")
            status = 1
    return status

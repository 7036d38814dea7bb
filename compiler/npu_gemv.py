"""Batch-1 FULLY_CONNECTED on the GEMV plan, with the layer's output stage.

A FULLY_CONNECTED with one input row uses every weight once, so it is bound by main memory,
not by the array. The GEMM planner keeps the weights stationary and needs a new weight set per
R x C tile for the single row (weight intake, far below the memory roofline);
:func:`dure.sim.gemv_plan.gemv_program` instead keeps the activation vector stationary and
streams the transposed weights, one output channel per ACC row (lane 0), raw int32 / fp32 /
fp16 out. :func:`fc_gemv_program` takes that command stream as it is and adds the layer's
output stage:

- FP16: the GEMV's STOREs (fp32 ACC with the fp32 bias as the start, fp16 out) get the fused
  activation's clamp (STORE ``clamp``, lo / hi fp32). Same accumulation order and the same
  ``fp16_postprocess`` as the GEMM path, so the result is the GEMM's bit for bit.
- INT8 (TFLite): the requantization takes a multiplier and shift per channel, and here the
  channels are ACC *rows* (lane 0), not the STORE's columns. The GEMV's STOREs become INT8
  STOREs with ``lane_scales`` (rtl/npu/store_cmd.py): row r of a block takes lane ``r % C`` of
  the block's parameter group, so the multipliers and shifts are laid out as for the
  per-column STORE, C channels side by side (rows ``P + 2 g``: multipliers, ``P + 2 g + 1``:
  shifts of channels ``g C .. g C + C - 1``), loaded by one LOAD just before the first STORE
  (so it overlaps the first block's last COMPUTEs instead of delaying the weights); every block
  starts at a multiple of C channels. The int32 values and the requantization are the
  GEMM's, so the output is too. With one multiplier and shift for all channels (per-tensor
  weights, what TFLite's converter writes for FULLY_CONNECTED unless asked for per-channel)
  the STOREs take the pair in lane 0 of two rows at the top of the ACC instead. (Before
  ``lane_scales`` the per-channel case wrote an int32 scratch vector, loaded it back after a
  FENCE and requantized it with one-row STOREs: ~13 k cycles more on the FC autoencoder.)

- INT8 (ONNX, ``FLOAT_SCALE``): the same with the fp32 scales of
  :func:`dure.compiler.reference.onnx_scales` as the per-row parameters, one row per group
  (row ``P + g``: the scales of channels ``g C .. g C + C - 1``), or one scale in lane 0 of
  the top ACC row when every channel has the same; the GEMM path's requantization, so its
  output.

Consecutive GEMV layers (:func:`prefetch_next`, applied by :func:`.lower.compile_graph` on
single-tile variants): the next layer's leading weight and bias LOADs go in front of this
layer's FENCE, so they stream while this layer's last COMPUTEs and STOREs drain instead of
after the core has launched the next layer.

ACC use: the GEMV's two halves at rows ``0`` and ``acc_rows / 2``; the requantization rows
(``2 ceil(N / C)``, per-tensor 2) at the top, refused (ValueError) when they would overlap
the GEMV's.
"""

import numpy as np
from dure.rtl.npu.commands import ElemType, LoadTarget, Opcode, OutType, Precision, RequantMode
from dure.rtl.npu.descriptor import decode, encode
from dure.sim.gemv_plan import gemv_program
from dure.sim.layer_program import LayerProgram

__all__ = ["fc_gemv_program", "per_tensor", "prefetch_next"]


def _f32_bits(v):
    return int(np.array(v, np.float32).view(np.uint32))


def per_tensor(multiplier, shift):
    """Whether every channel has the same multiplier and shift (no scratch vector needed)."""
    m, s = np.asarray(multiplier).reshape(-1), np.asarray(shift).reshape(-1)
    return bool(np.all(m == m[0]) and np.all(s == s[0]))


def fc_gemv_program(config, w, *, precision, x_addr, out_addr, param_addr, bias, lo=None,
                    hi=None, multiplier=None, shift=None, zero_point=0,
                    mode=RequantMode.TFLITE_SINGLE_ROUNDING, scale=None, flip=False,
                    acc_upper=None):
    """The :class:`~dure.sim.layer_program.LayerProgram` of a batch-1 FULLY_CONNECTED
    ``y = out_stage(x @ w + bias)`` (module docstring).

    ``w``: K x N (int8 or float16); ``x`` (1 x K) at ``x_addr``, ``y`` (1 x N, int8 or fp16)
    at ``out_addr``; ``bias``: N int32 (INT8, the input zero point already folded in) or
    float32 (FP16), or None. FP16: ``lo`` / ``hi`` the clamp (floats or None). INT8:
    ``multiplier`` / ``shift`` (N int32 each), ``zero_point``, ``lo`` / ``hi`` (ints), ``mode``
    a TFLite :class:`RequantMode`; or ``mode`` ``FLOAT_SCALE`` (ONNX) with ``scale`` (N, or
    one, float32) instead of multiplier and shift. Parameters (transposed weights, bias,
    multiplier and shift or scale rows) go to ``param_addr``. Raises ValueError when
    the GEMV plan refuses the shape or the ACC has no room for the requantization rows.
    ``flip``, ``acc_upper``: the GEMV's SPAD / ACC placement
    (:func:`dure.sim.gemv_plan.gemv_program`; timing only).
    """
    k, n = w.shape
    c, acc_rows = config.npu_cols, config.npu_acc_rows
    if precision == "fp16":
        prog = gemv_program(config, w, precision="fp16", a_addr=x_addr, out_addr=out_addr,
                            param_addr=param_addr, out_dtype="fp16", bias=bias, flip=flip,
                            acc_upper=acc_upper)
        if lo is None and hi is None:
            return prog
        words = []
        for d in prog.descriptors:
            opcode, f = decode(d)
            if opcode == Opcode.STORE:
                f.update(clamp=1, lo=_f32_bits(-np.inf if lo is None else lo),
                         hi=_f32_bits(np.inf if hi is None else hi))
                d = encode(Opcode.STORE, **f)
            words.append(d)
        prog.descriptors = words
        return prog
    if precision != "int8":
        raise ValueError(f"precision must be int8 or fp16, not {precision!r}")
    mode = RequantMode(mode)
    if mode == RequantMode.FLOAT_SCALE:
        if scale is None:
            raise ValueError("FLOAT_SCALE needs scale")
        sc = np.broadcast_to(np.asarray(scale, np.float32).reshape(-1), (n,))
        # one parameter row per group: the fp32 scales' bits, C channels side by side
        params = sc.view(np.int32)[None, :]
        if np.all(sc.view(np.int32) == sc.view(np.int32)[0]):
            return _per_tensor(config, w, x_addr, out_addr, param_addr, bias,
                               [int(params[0, 0])], zero_point, lo, hi, mode, flip,
                               acc_upper)
    else:
        if multiplier is None or shift is None:
            raise ValueError("INT8 needs multiplier and shift")
        mult = np.asarray(multiplier, np.int32).reshape(-1)
        shf = np.asarray(shift, np.int32).reshape(-1)
        if mult.size != n or shf.size != n:
            raise ValueError(f"{n} channels need {n} multipliers and shifts")
        if per_tensor(mult, shf):
            return _per_tensor(config, w, x_addr, out_addr, param_addr, bias,
                               [int(mult[0]), int(shf[0])], zero_point, lo, hi, mode, flip,
                               acc_upper)
        params = np.stack([mult, shf])
    prog = gemv_program(config, w, precision="int8", a_addr=x_addr, out_addr=out_addr,
                        param_addr=param_addr, out_dtype="int32", bias=bias, flip=flip,
                        acc_upper=acc_upper)
    nb = max(decode(d)[1]["rows"] for d in prog.descriptors if decode(d)[0] == Opcode.STORE)
    if nb % c and nb > c:               # every block must start a parameter group
        prog = gemv_program(config, w, precision="int8", a_addr=x_addr, out_addr=out_addr,
                            param_addr=param_addr, out_dtype="int32", bias=bias,
                            nb=nb - nb % c, flip=flip, acc_upper=acc_upper)
    groups = -(-n // c)
    per = len(params)                   # parameter rows per group: 1 (scale) or 2 (M, shift)
    par = acc_rows - per * groups       # rows par..: the parameter rows of each group
    if _acc_used(prog) > par:
        raise ValueError(f"the ACC has no room for {per * groups} requantization rows above "
                         f"the GEMV's {_acc_used(prog)}")
    # Parameter rows of C channels, interleaved per group (M row, shift row, M row, ...; or
    # one scale row each) and padded to whole rows, after the GEMV's own parameters: one LOAD
    # brings them all.
    pairs = np.zeros((groups, per, c), np.int32)
    for i in range(per):
        pairs[:, i].flat[:n] = params[i]
    end = max(a + len(b) for a, b in prog.blobs) - param_addr
    p_addr = param_addr + (end + 15) // 16 * 16
    blobs = [*prog.blobs, (p_addr, pairs.tobytes())]
    params = encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32, dram_addr=p_addr,
                    dram_stride=4 * c, rows=per * groups, cols=c, local_addr=par)
    words = []
    for d in prog.descriptors:
        opcode, f = decode(d)
        if opcode == Opcode.STORE and params is not None:
            # The parameters are first needed by the first STORE: loaded just before it, they
            # ride in the bus's idle time while the block's last COMPUTEs drain instead of
            # delaying the first weights.
            words.append(params)
            params = None
        if opcode == Opcode.STORE:
            n0 = (f["dram_addr"] - out_addr) // 4
            if n0 % c:
                raise ValueError(f"a GEMV block starts at channel {n0}, not a multiple of {c}")
            d = encode(Opcode.STORE, out=OutType.INT8, acc_type=Precision.INT8, scale=1,
                       lane_scales=1, requant=mode.value, zero_point=zero_point, lo=int(lo),
                       hi=int(hi), dram_addr=out_addr + n0, dram_stride=1, rows=f["rows"],
                       cols=1, acc_addr=f["acc_addr"], scale_addr=par + per * (n0 // c))
        words.append(d)
    return LayerProgram(words, blobs, out_addr, (1, n), np.dtype(np.int8), macs=k * n,
                        array_macs=prog.array_macs)


def _acc_used(prog):
    """One past the highest ACC row the GEMV's COMPUTEs and ACC LOADs touch."""
    used = 0
    for d in prog.descriptors:
        opcode, f = decode(d)
        if opcode == Opcode.COMPUTE:
            used = max(used, f["acc_addr"] + f["m"])
        elif opcode == Opcode.LOAD and f["target"] == LoadTarget.ACC.value:
            used = max(used, f["local_addr"] + f["rows"])
    return used


def _per_tensor(config, w, x_addr, out_addr, param_addr, bias, params, zero_point, lo, hi,
                mode, flip, acc_upper):
    """One set of parameters for every channel (per-tensor weights; ``params``: the
    multiplier and shift, or the fp32 scale's bits): the GEMV's STOREs requantize its ACC rows
    directly (lane 0 of the one or two rows at the top of the ACC)."""
    k, n = w.shape
    prog = gemv_program(config, w, precision="int8", a_addr=x_addr, out_addr=out_addr,
                        param_addr=param_addr, out_dtype="int32", bias=bias, flip=flip,
                        acc_upper=acc_upper)
    par = config.npu_acc_rows - len(params)
    if _acc_used(prog) > par:
        raise ValueError("the ACC has no room for the requantization rows")
    end = max(a + len(b) for a, b in prog.blobs) - param_addr
    p_addr = param_addr + (end + 15) // 16 * 16
    blobs = [*prog.blobs, (p_addr, np.array(params, np.int32).tobytes())]
    words = [encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                    dram_addr=p_addr, dram_stride=4, rows=len(params), cols=1,
                    local_addr=par)]
    for d in prog.descriptors:
        opcode, f = decode(d)
        if opcode == Opcode.STORE:
            rows = f["rows"]
            n0 = (f["dram_addr"] - out_addr) // 4
            d = encode(Opcode.STORE, out=OutType.INT8, acc_type=Precision.INT8, scale=1,
                       requant=mode.value, zero_point=zero_point, lo=int(lo), hi=int(hi),
                       dram_addr=out_addr + n0, dram_stride=1, rows=rows, cols=1,
                       acc_addr=f["acc_addr"], scale_addr=par)
        words.append(d)
    return LayerProgram(words, blobs, out_addr, (1, n), np.dtype(np.int8), macs=k * n,
                        array_macs=prog.array_macs)


def prefetch_next(prev, nxt, blob):
    """Move the leading weight LOADs of the GEMV layer after ``prev`` into ``prev``'s tail.

    ``prev`` and ``nxt`` are the command lists (descriptor word lists) of two consecutive NPU
    layers run one after the other on the same NPU, ``prev`` ending with its FENCE; ``blob``
    is ``(first, end)``, the byte range of the program's constants (no STORE writes there).
    The LOADs at the head of ``nxt`` (before its first other command) that read the constants
    (its first weight tiles, the bias; not the activation vector, which ``prev`` writes) are
    moved in front of ``prev``'s FENCE, so they fill the bus while ``prev``'s last COMPUTEs
    and STOREs drain and ``nxt`` starts computing at once. SPAD and ACC hazards keep them
    after ``prev``'s commands that use the same rows; an ACC LOAD is only moved when it lies
    below every parameter row ``prev``'s STOREs read (a ``lane_scales`` STORE reads more
    parameter rows than its hazard footprint names, ``rtl/npu/hazard.py``). Returns the two
    new lists; the pair computes the same results (``nxt`` alone no longer does)."""
    if not prev or decode(prev[-1])[0] != Opcode.FENCE:
        raise ValueError("the first layer's commands must end with its FENCE")
    first, end = blob
    params = [f["scale_addr"] for op, f in map(decode, prev) if op == Opcode.STORE and f["scale"]]
    floor = min(params, default=None)
    moved, kept = [], []
    head = True
    for d in nxt:
        opcode, f = decode(d)
        head = head and opcode == Opcode.LOAD
        movable = head and not f["fill"] and f["local_cols"] == 0 \
            and first <= f["dram_addr"] < end \
            and (f["target"] == LoadTarget.SPAD.value or floor is None
                 or f["local_addr"] + f["rows"] <= floor)
        (moved if movable else kept).append(d)
    return [*prev[:-1], *moved, prev[-1]], kept

"""NPU GEMM benchmark with a roofline: square GEMMs and layer shapes of small published models,
both precisions, run on the simulated SoC through the ``npu_job`` firmware.

Per shape: MACs, cycles (rdcycle around ``npu_gemm``: descriptor pushes, NPU run, final fence),
MACs per cycle, utilization against the array's peak (``config.npu_peak_macs_per_cycle``), DMA
bytes read and written (the NPU's counters), arithmetic intensity (MACs per DMA byte), the
roofline bound ``min(peak, config.main_bytes_per_cycle x intensity)`` and the utilization
against that bound; plus the NPU's stall counters. Every output is compared bit for bit with
:mod:`dure.sim.golden` (:func:`dure.sim.npu_job.reference`).

Shapes (M x K x N, as GEMMs; convolutions through im2col, M = output pixels):

- ``gemm64``, ``gemm256``, ``gemm512``: square GEMMs.
- MLPerf Tiny keyword spotting (DS-CNN, 49x10 MFCC input): a pointwise conv 64 -> 64 on the
  25 x 5 feature map (M = 125) and the final FC 64 -> 12 (batch 1).
- MLPerf Tiny anomaly detection (FC autoencoder): the first FC 640 -> 128, a batch of 32 frames.

Layers (:data:`LAYERS`): real NHWC layers, input tensor in main memory to output tensor in main
memory, lowered by :mod:`dure.sim.conv_plan` / :mod:`dure.sim.pool_plan` (implicit GEMM on
walked COMPUTEs: no im2col anywhere) and pushed by the firmware as a prepared descriptor list
(:meth:`dure.sim.npu_job.Job.commands`; ``feed="list"``: the list placed in main memory and
fetched by the NPU itself after one LIST doorbell, which is slower today: its 32 bytes per
descriptor share the DMA port with the data, docs/layer_fixed_cost.md); ``cycles`` is rdcycle
around the pushes and the final fence, every cycle of the layer; outputs compared bit for
bit with the golden TFLite operators
(:mod:`dure.sim.golden_tflite`, :mod:`dure.sim.golden_tflite_fp16`). M = output pixels, K =
MACs per output element (KH*KW*Cin; depthwise KH*KW; pooling: the window), N = output channels,
so MACs = M*K*N are the layer's useful multiply-accumulates.

- MLPerf Tiny image classification (ResNet-8 on 32x32x3): conv1 3x3x3 -> 16 SAME on 32x32, a
  stage-1 3x3 16 -> 16 (32x32), a stage-2 3x3 32 -> 32 (16x16), a stage-3 3x3 64 -> 64 (8x8),
  and the global average pool 8x8x64 (``rn8_pool``).
- DS-CNN keyword spotting: the first conv 10x4 stride 2 SAME 49x10x1 -> 64 (``kws_conv1``), a
  depthwise 3x3 on 25x5x64 (``kws_dw``), a pointwise 64 -> 64 on 25x5 (``kws_pw``) and the
  average pool 25x5 over 25x5x64 (``kws_pool``).
- ResNet-8's residual ADD of stage 1 (32x32x16, ``rn8_add``; INT8 on the element-wise unit,
  FP16 on diagonal COMPUTEs) and a MobileNet-style max pool 3x3 stride 2 SAME on 16x16x32
  (``mp3x3s2``, the element-wise unit). For these K is 1 (ADD: one operation per output
  element) or the window (max pool) and MACs = M*K*N counts those operations, not
  multiply-accumulates of the array (util % is against the array's peak all the same).

The extra columns at the end: ``lowering`` (``gemm``: im2col'd GEMM through ``npu_gemm``;
``walk``: a lowered layer), ``cycles - compute`` (cycles beyond those in which the array took
an activation row: the fixed cost plus every stall) and ``fixed`` (issue 10's fixed cost:
cycles minus the work, the work being the rows the layer's COMPUTEs and ELTWISEs take, one per
cycle, :func:`dure.sim.layer_program.work_rows`; for rows whose descriptors the firmware
builds (``gemm``) the PERF_COMPUTE rows, which is the same there: they have no ELTWISE).
Then the NPU's split of the cycles that are not rows of work (PERF_FILL / PERF_GAPS /
PERF_DRAIN, :class:`dure.rtl.npu.perf.PerfCounters`; a row: an array row of a COMPUTE or a
row the element-wise unit computes for an ELTWISE): ``fill`` from the first cycle the NPU is
busy (the first descriptor pushed) to the first row, ``gaps`` the cycles without a row
between the first and the last row, ``drain`` from the last row to the last busy cycle (the
last byte stored and the closing FENCE). What ``fixed`` holds beyond these three is the core's
share: the cycles before its first push lands and after the FENCE until rdcycle. Last,
``feed`` (``push``: the core pushed each descriptor; ``list``: one LIST doorbell, the NPU
fetched the descriptors by DMA) and ``npu fixed``, issue 10's definition of the fixed cost
measured by the NPU: ``fill + gaps + drain``, i.e. the cycles from the first busy cycle to the
last minus the rows of work. With ``feed = list`` the first busy cycle is the LIST's arrival
in the queue, which precedes the first descriptor's fetch by the command path (queue,
validator, front: ~8 cycles), and the last busy one is the last STORE's last write answered
plus the FENCE retiring (a cycle or two), so ``npu fixed`` is the issue's "first descriptor
fetched to last byte stored, minus the work" plus those ~10 cycles.
"""

import csv
import pathlib
from dataclasses import dataclass

import numpy as np

from .golden_tflite_params import add_params, conv_multipliers
from .layer_program import work_rows
from .npu_job import Job, reference

__all__ = ["SHAPES", "LAYERS", "GEMVS", "Row", "run_shape", "run_layer", "run_gemv", "run_all",
           "write_reports", "random_operands"]

#: (name, M, K, N, source)
SHAPES = [
    ("gemm64", 64, 64, 64, "square GEMM"),
    ("gemm256", 256, 256, 256, "square GEMM"),
    ("gemm512", 512, 512, 512, "square GEMM"),
    ("kws_pw64", 125, 64, 64, "DS-CNN KWS pointwise conv 64->64, 25x5"),
    ("kws_fc", 1, 64, 12, "DS-CNN KWS final FC 64->12, batch 1"),
    ("ad_fc640", 32, 640, 128, "AD autoencoder FC 640->128, batch 32"),
    ("gemv1k", 1, 1024, 1024, "GEMV 1x1024x1024 through npu_gemm (weights stationary)"),
]

#: GEMV rows (weights streamed once): (name, K, N, weight formats). Every format runs the
#: transposed GEMV plan (:mod:`dure.sim.gemv_plan`, lowering ``gemv-T``; the 2:4 formats on
#: the lane-grouped LOADs); a format ending in ``-packed`` (say ``int4-sparse24-packed``)
#: runs the GEMM plan with packed LOADs instead (:mod:`dure.sim.weight_formats`, lowering
#: ``gemm-packed``). ``w4a16-gG``: int4 weights with fp16 scales per group of G k (W4A16,
#: FP16 precision). Outputs are raw (int32 / fp32). ``int4-sparse24`` on an NPU with the
#: gather path skips the zero MACs with the shared base-6 codes; ``int4-sparse24-nibble`` the
#: same with the 4-bit codes (one record per channel) for comparison.
GEMVS = [
    ("gemv1k", 1024, 1024, ("int8", "int4", "int8-sparse24", "int4-sparse24",
                            "int4-sparse24-nibble", "fp16", "w4a16-g32", "w4a16-g128")),
    ("gemv2k", 2048, 1024, ("int8", "int4", "int4-sparse24")),
]

#: (name, operator, input NHWC shape, output channels, kernel, stride, padding, source)
LAYERS = [
    ("rn8_conv1", "conv", (1, 32, 32, 3), 16, (3, 3), 1, "SAME",
     "ResNet-8 conv1 3x3x3->16, 32x32"),
    ("rn8_s1", "conv", (1, 32, 32, 16), 16, (3, 3), 1, "SAME",
     "ResNet-8 stage 1 3x3 16->16, 32x32"),
    ("rn8_s2", "conv", (1, 16, 16, 32), 32, (3, 3), 1, "SAME",
     "ResNet-8 stage 2 3x3 32->32, 16x16"),
    ("rn8_s3", "conv", (1, 8, 8, 64), 64, (3, 3), 1, "SAME",
     "ResNet-8 stage 3 3x3 64->64, 8x8"),
    ("rn8_pool", "avgpool", (1, 8, 8, 64), 64, (8, 8), 1, "VALID",
     "ResNet-8 global average pool 8x8x64"),
    ("kws_conv1", "conv", (1, 49, 10, 1), 64, (10, 4), 2, "SAME",
     "DS-CNN KWS conv1 10x4 stride 2, 49x10x1->64"),
    ("kws_dw", "depthwise", (1, 25, 5, 64), 64, (3, 3), 1, "SAME",
     "DS-CNN KWS depthwise 3x3, 25x5x64"),
    ("kws_pw", "conv", (1, 25, 5, 64), 64, (1, 1), 1, "SAME",
     "DS-CNN KWS pointwise 64->64, 25x5, as a walked layer (kws_pw64: the GEMM)"),
    ("kws_pool", "avgpool", (1, 25, 5, 64), 64, (25, 5), 1, "VALID",
     "DS-CNN KWS average pool 25x5x64"),
    ("rn8_add", "add", (1, 32, 32, 16), 16, (1, 1), 1, "VALID",
     "ResNet-8 stage 1 residual ADD 32x32x16"),
    ("mp3x3s2", "maxpool", (1, 16, 16, 32), 32, (3, 3), 2, "SAME",
     "max pool 3x3 stride 2 SAME, 16x16x32"),
]

COLUMNS = ["shape", "precision", "M", "K", "N", "MACs", "cycles", "MACs/cycle", "util %",
           "DMA rd B", "DMA wr B", "MACs/B", "bound MACs/cycle", "util of bound %",
           "stall mem", "stall dep", "stall out", "exact", "lowering", "cycles - compute",
           "fixed", "fill", "gaps", "drain", "feed", "npu fixed"]


@dataclass
class Row:
    """One benchmark result."""

    shape: str
    precision: str
    m: int
    k: int
    n: int
    cycles: int
    dma_rd: int
    dma_wr: int
    stall_mem: int
    stall_dep: int
    stall_out: int
    busy: int
    compute: int
    exact: bool
    peak: int
    bandwidth: int
    lowering: str = "gemm"
    work: int = None        # rows of the COMPUTEs and ELTWISEs (None: ``compute``)
    perf_fill: int = 0      # PERF_FILL / PERF_GAPS / PERF_DRAIN (module docstring)
    perf_gaps: int = 0
    perf_drain: int = 0
    feed: str = "push"      # how the descriptors reached the NPU (module docstring)

    @property
    def macs(self):
        return self.m * self.k * self.n

    @property
    def rate(self):
        return self.macs / self.cycles

    @property
    def intensity(self):
        return self.macs / max(1, self.dma_rd + self.dma_wr)

    @property
    def bound(self):
        return min(self.peak, self.bandwidth * self.intensity)

    def cells(self):
        return [self.shape, self.precision, self.m, self.k, self.n, self.macs, self.cycles,
                f"{self.rate:.2f}", f"{100 * self.rate / self.peak:.1f}", self.dma_rd,
                self.dma_wr, f"{self.intensity:.2f}", f"{self.bound:.2f}",
                f"{100 * self.rate / self.bound:.1f}", self.stall_mem, self.stall_dep,
                self.stall_out, "yes" if self.exact else "NO", self.lowering,
                self.cycles - self.compute, self.fixed, self.perf_fill, self.perf_gaps,
                self.perf_drain, self.feed, self.npu_fixed]

    @property
    def npu_fixed(self):
        """FILL + GAPS + DRAIN (module docstring, column ``npu fixed``)."""
        return self.perf_fill + self.perf_gaps + self.perf_drain

    @property
    def fixed(self):
        """Cycles minus the work (module docstring, column ``fixed``)."""
        return self.cycles - (self.compute if self.work is None else self.work)


def _split(stats):
    """The Row fields of the NPU's FILL / GAPS / DRAIN counters in a layer's results."""
    return dict(perf_fill=stats["fill"], perf_gaps=stats["gaps"], perf_drain=stats["drain"])


def random_operands(precision, m, k, n, seed):
    """Operands, bias and scale for one benchmark GEMM (deterministic)."""
    rng = np.random.default_rng(seed)
    if precision == "int8":
        a = rng.integers(-128, 128, (m, k), dtype=np.int8)
        b = rng.integers(-128, 128, (k, n), dtype=np.int8)
        bias = rng.integers(-5000, 5000, n, dtype=np.int32)
        scale = (rng.uniform(0.5, 2.0, n) / (64.0 * np.sqrt(k))).astype(np.float32)
        return dict(a=a, b=b, bias=bias, scale=scale, precision="int8", out_dtype="int8")
    a = rng.standard_normal((m, k)).astype(np.float16)
    b = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float16)
    bias = rng.standard_normal(n).astype(np.float32)
    return dict(a=a, b=b, bias=bias, precision="fp16", out_dtype="fp16")


#: Batch-1 shapes with at most this many output channels run the transposed GEMV plan (one
#: STORE per channel for the per-channel requantization, so only small N gains).
GEMV_MAX_N = 64


def run_shape(config, name, m, k, n, precision, seed=0, lowering=None):
    """Run one shape on the simulated SoC; return a :class:`Row`. ``lowering``: ``gemm``
    (``npu_gemm`` on the core) or ``gemv-T`` (the transposed GEMV plan as a prepared command
    list, M = 1 only); by default ``gemv-T`` for M = 1 and N <= :data:`GEMV_MAX_N`."""
    from .gemv_plan import gemv_program

    spec = random_operands(precision, m, k, n, seed)
    if lowering is None:
        lowering = "gemv-T" if m == 1 and n <= GEMV_MAX_N else "gemm"
    job = Job(config, max_layers=1)
    if lowering == "gemv-T":
        if m != 1:
            raise ValueError("the GEMV plan runs M = 1")

        def build(addrs, out_addr, param_addr):
            return gemv_program(config, spec["b"], precision=precision,
                                out_dtype=spec["out_dtype"], bias=spec["bias"],
                                scale=spec.get("scale"), a_addr=addrs[0], out_addr=out_addr,
                                param_addr=param_addr)
        out, _ = job.layer_program(build, [spec["a"]])
    else:
        out = job.gemm(**spec)
    result = job.run()
    got = result.read(out).reshape(spec["a"].shape[0], n)
    want = reference(**spec)
    width = f"u{got.dtype.itemsize}"
    stats = result.layers[0]
    return Row(name, precision, m, k, n, stats["cycles"], stats["dma_rd"], stats["dma_wr"],
               stats["stall_mem"], stats["stall_dep"], stats["stall_out"], stats["busy"],
               stats["compute"], bool(np.array_equal(got.view(width), want.view(width))),
               config.npu_peak_macs_per_cycle, config.main_bytes_per_cycle, lowering=lowering,
               **_split(stats))


def run_gemv(config, name, k, n, fmt, seed=0):
    """Run one GEMV row (:data:`GEMVS`) on the simulated SoC; return a :class:`Row` (its
    ``shape`` is ``name`` and the format)."""
    from . import golden
    from .gemv_plan import gemv_program
    from .weight_formats import gemm_program, pack_weights

    rng = np.random.default_rng(seed)
    fp16 = fmt == "fp16" or fmt.startswith("w4a16")
    group = scales = None
    if fmt.startswith("w4a16"):
        group = int(fmt.removeprefix("w4a16-g"))
        a = rng.standard_normal((1, k)).astype(np.float16)
        b = rng.integers(-8, 8, (k, n)).astype(np.int8)
        scales = (rng.uniform(0.5, 2.0, (-(-k // group), n)) / (8 * np.sqrt(k))) \
            .astype(np.float16)
    elif fp16:
        a = rng.standard_normal((1, k)).astype(np.float16)
        b = (rng.standard_normal((k, n)) / np.sqrt(k)).astype(np.float16)
    else:
        a = rng.integers(-128, 128, (1, k), dtype=np.int8)
        bound = 8 if "int4" in fmt else 128
        b = rng.integers(-bound, bound, (k, n)).astype(np.int8)
        if "sparse24" in fmt:
            keep = rng.random((k // 4, 4, n)).argsort(axis=1) < 2
            b = np.where(keep.reshape(k, n), b, 0).astype(np.int8)
    if group:
        from .golden_int4 import gemm_w4a16
        want = gemm_w4a16(a, b, scales, group)
    else:
        want = golden.gemm_fp16(a, b) if fp16 else golden.gemm_int8(a, b)
    precision = "fp16" if fp16 else "int8"
    if fmt.endswith("-packed"):
        packed = pack_weights(fmt.removesuffix("-packed"), b, tile=config.npu_cols)

        def build(addrs, out_addr, param_addr):
            return gemm_program(config, 1, packed, precision="int8", out_dtype="int32",
                                a_addr=addrs[0], out_addr=out_addr, param_addr=param_addr)
        lowering = "gemm-packed"
    else:
        plan_fmt = "dense" if fmt in ("int8", "fp16") else "int4" if group else fmt
        codes = None
        if plan_fmt.endswith("-nibble"):
            plan_fmt, codes = plan_fmt.removesuffix("-nibble"), "nibble"

        def build(addrs, out_addr, param_addr):
            return gemv_program(config, b, precision=precision, fmt=plan_fmt, scales=scales,
                                group_size=group, codes=codes,
                                a_addr=addrs[0], out_addr=out_addr, param_addr=param_addr)
        lowering = "gemv-T"
    job = Job(config, max_layers=1)
    out, _ = job.layer_program(build, [a])
    result = job.run()
    got = result.read(out).reshape(want.shape)
    width = f"u{got.dtype.itemsize}"
    stats = result.layers[0]
    return Row(f"{name} {fmt}", precision, 1, k, n, stats["cycles"], stats["dma_rd"],
               stats["dma_wr"], stats["stall_mem"], stats["stall_dep"], stats["stall_out"],
               stats["busy"], stats["compute"],
               bool(np.array_equal(got.view(width), want.view(width))),
               config.npu_peak_macs_per_cycle, config.main_bytes_per_cycle, lowering=lowering,
               **_split(stats))


def layer_operands(op, x_shape, cout, kernel, precision, seed):
    """Deterministic operands of one benchmark layer and the golden output function."""
    rng = np.random.default_rng(seed)
    cin = x_shape[3]
    if op in ("avgpool", "maxpool", "add"):
        def draw():
            if precision == "int8":
                return rng.integers(-128, 128, x_shape, dtype=np.int8)
            return rng.standard_normal(x_shape).astype(np.float16)
        return dict(x=draw(), x2=draw()) if op == "add" else dict(x=draw())
    wshape = (1, *kernel, cin) if op == "depthwise" else (cout, *kernel, cin)
    fan = kernel[0] * kernel[1] * (1 if op == "depthwise" else cin)
    if precision == "int8":
        mult, shift = conv_multipliers(0.05, rng.uniform(0.5, 2.0, cout) * 0.02 / np.sqrt(fan),
                                       0.1, cout)
        return dict(x=rng.integers(-128, 128, x_shape, dtype=np.int8),
                    w=rng.integers(-128, 128, wshape, dtype=np.int8),
                    bias=rng.integers(-5000, 5000, cout, dtype=np.int32),
                    input_zero_point=-3, output_zero_point=2, multiplier=mult, shift=shift)
    return dict(x=rng.standard_normal(x_shape).astype(np.float16),
                w=(rng.standard_normal(wshape) / np.sqrt(fan)).astype(np.float16),
                bias=rng.standard_normal(cout).astype(np.float32))


def _layer_calls(op, precision):
    """(planner, golden) of an operator in a precision."""
    from . import conv_plan, eltwise_plan, golden_tflite, golden_tflite_fp16, pool_plan
    name = {"conv": "conv2d", "depthwise": "depthwise_conv2d", "avgpool": "average_pool",
            "maxpool": "max_pool", "add": "add"}[op]
    plan_mod = {"avgpool": pool_plan, "maxpool": pool_plan, "add": eltwise_plan}.get(
        op, conv_plan)
    gold = golden_tflite if precision == "int8" else golden_tflite_fp16
    return (getattr(plan_mod, f"{name}_{precision}_program"),
            getattr(gold, f"{name}_{precision}"))


FEEDS = ("list", "push")


def run_layer(config, name, op, x_shape, cout, kernel, stride, padding, precision, seed=0,
              feed="push"):
    """Run one lowered layer (:data:`LAYERS`) on the simulated SoC; return a :class:`Row`.
    ``feed``: ``push`` (the core pushes each descriptor) or ``list`` (the NPU fetches the
    descriptor list by DMA after one LIST doorbell)."""
    if feed not in FEEDS:
        raise ValueError(f"feed must be one of {FEEDS}, not {feed!r}")
    spec = layer_operands(op, x_shape, cout, kernel, precision, seed)
    planner, gold = _layer_calls(op, precision)
    x = spec.pop("x")
    inputs = [x]
    if op == "add":
        x2 = spec.pop("x2")
        inputs.append(x2)
        if precision == "int8":
            args = dict(input1_zero_point=-3, input2_zero_point=5, output_zero_point=-1)
            params = add_params(0.05, 0.07, 0.09)
            want = gold(x, x2, params, **args)

            def build(addrs, out_addr, param_addr):
                return planner(config, x.shape, params, a_addr=addrs[0], b_addr=addrs[1],
                               out_addr=out_addr, param_addr=param_addr, **args)
        else:
            want = gold(x, x2)

            def build(addrs, out_addr, param_addr):
                return planner(config, x.shape, a_addr=addrs[0], b_addr=addrs[1],
                               out_addr=out_addr, param_addr=param_addr)
    elif op in ("avgpool", "maxpool"):
        args = dict(stride=stride, padding=padding)
        want = gold(x, kernel, **args)

        def build(addrs, out_addr, param_addr):
            return planner(config, x.shape, kernel, x_addr=addrs[0], out_addr=out_addr,
                           param_addr=param_addr, **args)
    else:
        w, bias = spec.pop("w"), spec.pop("bias")
        args = dict(stride=stride, padding=padding, **spec)
        want = gold(x, w, bias, **args)

        if op == "conv" and precision == "int8":
            args["listed"] = feed == "list"      # the planner orders its head for the feed

        def build(addrs, out_addr, param_addr):
            return planner(config, x.shape, w, bias, x_addr=addrs[0], out_addr=out_addr,
                           param_addr=param_addr, **args)
    job = Job(config, max_layers=1)
    out, program = job.layer_program(build, inputs, as_list=feed == "list")
    result = job.run()
    got = result.read(out).reshape(want.shape)
    width = f"u{got.dtype.itemsize}"
    stats = result.layers[0]
    oh, ow = want.shape[1:3]
    k = kernel[0] * kernel[1] * (x_shape[3] if op == "conv" else 1)
    return Row(name, precision, x_shape[0] * oh * ow, k, cout, stats["cycles"],
               stats["dma_rd"], stats["dma_wr"], stats["stall_mem"], stats["stall_dep"],
               stats["stall_out"], stats["busy"], stats["compute"],
               bool(np.array_equal(got.view(width), want.view(width))),
               config.npu_peak_macs_per_cycle, config.main_bytes_per_cycle, lowering="walk",
               work=work_rows(program.descriptors), feed=feed, **_split(stats))


def run_all(config, shapes=None, precisions=("int8", "fp16"), progress=None, layers=None,
            gemvs=None, feed="push"):
    """Every GEMM shape, every layer in both precisions and every GEMV row (:data:`GEMVS`,
    formats of the wanted precisions); ``progress(text)`` is called before each run; ``feed``
    as :func:`run_layer` takes it, for the layers."""
    rows = []
    for name, k, n, formats in GEMVS if gemvs is None else gemvs:
        for fmt in formats:
            precision = "fp16" if fmt == "fp16" or fmt.startswith("w4a16") else "int8"
            if precision not in precisions or (precision == "fp16" and not config.npu_fp16):
                continue
            if progress:
                progress(f"{name} {fmt} (1x{k}x{n})")
            rows.append(run_gemv(config, name, k, n, fmt))
    for name, m, k, n, _ in SHAPES if shapes is None else shapes:
        for precision in precisions:
            if precision == "fp16" and not config.npu_fp16:
                continue
            if progress:
                progress(f"{name} {precision} ({m}x{k}x{n})")
            rows.append(run_shape(config, name, m, k, n, precision))
    for name, op, x_shape, cout, kernel, stride, padding, _ in \
            LAYERS if layers is None else layers:
        for precision in precisions:
            if precision == "fp16" and not config.npu_fp16:
                continue
            if progress:
                progress(f"{name} {precision} ({op} {x_shape} -> {cout})")
            rows.append(run_layer(config, name, op, x_shape, cout, kernel, stride, padding,
                                  precision, feed=feed))
    return rows


def markdown(rows):
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(c) for c in row.cells()) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_reports(rows, folder, config):
    """Write ``npu_bench.md``, ``npu_bench.csv`` and ``roofline.png`` into ``folder``; return
    the paths written (the plot is skipped with a note when matplotlib is missing)."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    md = folder / "npu_bench.md"
    peak, bw = config.npu_peak_macs_per_cycle, config.main_bytes_per_cycle
    md.write_text(f"# NPU GEMM benchmark ({config.name}: {config.npu_rows}x{config.npu_cols} "
                  f"array, peak {peak} MACs/cycle, main memory {bw} B/cycle)\n\n"
                  + markdown(rows))
    path_csv = folder / "npu_bench.csv"
    with open(path_csv, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        writer.writerows(row.cells() for row in rows)
    written = [md, path_csv]
    png = _plot(rows, folder / "roofline.png", peak, bw)
    if png:
        written.append(png)
    return written


def _plot(rows, path, peak, bandwidth):
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    lo = min(0.25, min(r.intensity for r in rows) / 2)
    hi = max(4 * peak / bandwidth, max(r.intensity for r in rows) * 2)
    x = np.geomspace(lo, hi, 200)
    ax.plot(x, np.minimum(peak, bandwidth * x), "k-", label=f"roofline: min({peak}, "
            f"{bandwidth} B/cycle x intensity)")
    for precision, marker in (("int8", "o"), ("fp16", "s")):
        sel = [r for r in rows if r.precision == precision]
        if not sel:
            continue
        ax.scatter([r.intensity for r in sel], [r.rate for r in sel], marker=marker,
                   label=precision)
        for r in sel:
            ax.annotate(r.shape, (r.intensity, r.rate), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (MACs per DMA byte)")
    ax.set_ylabel("MACs per cycle")
    ax.set_title("Dure NPU on the simulated SoC")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

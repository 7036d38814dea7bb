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
- MLPerf Tiny image classification (ResNet-8 on 32x32x3): conv1 3x3x3 -> 16 (M = 1024,
  K = 27), a stage-1 3x3 16 -> 16 (M = 1024, K = 144), a stage-2 3x3 32 -> 32 (M = 256,
  K = 288), a stage-3 3x3 64 -> 64 (M = 64, K = 576).
"""

import csv
import pathlib
from dataclasses import dataclass

import numpy as np

from .npu_job import Job, reference

__all__ = ["SHAPES", "Row", "run_shape", "run_all", "write_reports", "random_operands"]

#: (name, M, K, N, source)
SHAPES = [
    ("gemm64", 64, 64, 64, "square GEMM"),
    ("gemm256", 256, 256, 256, "square GEMM"),
    ("gemm512", 512, 512, 512, "square GEMM"),
    ("kws_pw64", 125, 64, 64, "DS-CNN KWS pointwise conv 64->64, 25x5"),
    ("kws_fc", 1, 64, 12, "DS-CNN KWS final FC 64->12, batch 1"),
    ("ad_fc640", 32, 640, 128, "AD autoencoder FC 640->128, batch 32"),
    ("rn8_conv1", 1024, 27, 16, "ResNet-8 conv1 3x3x3->16, 32x32"),
    ("rn8_s1", 1024, 144, 16, "ResNet-8 stage 1 3x3 16->16, 32x32"),
    ("rn8_s2", 256, 288, 32, "ResNet-8 stage 2 3x3 32->32, 16x16"),
    ("rn8_s3", 64, 576, 64, "ResNet-8 stage 3 3x3 64->64, 8x8"),
]

COLUMNS = ["shape", "precision", "M", "K", "N", "MACs", "cycles", "MACs/cycle", "util %",
           "DMA rd B", "DMA wr B", "MACs/B", "bound MACs/cycle", "util of bound %",
           "stall mem", "stall dep", "stall out", "exact"]


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
                self.stall_out, "yes" if self.exact else "NO"]


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


def run_shape(config, name, m, k, n, precision, seed=0):
    """Run one shape on the simulated SoC; return a :class:`Row`."""
    spec = random_operands(precision, m, k, n, seed)
    job = Job(config, max_layers=1)
    out = job.gemm(**spec)
    result = job.run()
    got = result.read(out)
    want = reference(**spec)
    width = f"u{got.dtype.itemsize}"
    stats = result.layers[0]
    return Row(name, precision, m, k, n, stats["cycles"], stats["dma_rd"], stats["dma_wr"],
               stats["stall_mem"], stats["stall_dep"], stats["stall_out"], stats["busy"],
               stats["compute"], bool(np.array_equal(got.view(width), want.view(width))),
               config.npu_peak_macs_per_cycle, config.main_bytes_per_cycle)


def run_all(config, shapes=None, precisions=("int8", "fp16"), progress=None):
    """Every shape in both precisions; ``progress(text)`` is called before each run."""
    rows = []
    for name, m, k, n, _ in shapes or SHAPES:
        for precision in precisions:
            if precision == "fp16" and not config.npu_fp16:
                continue
            if progress:
                progress(f"{name} {precision} ({m}x{k}x{n})")
            rows.append(run_shape(config, name, m, k, n, precision))
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

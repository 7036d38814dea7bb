"""GEMMs split across the NPU tiles of a multi-tile SoC, run through the ``npu_tiles`` firmware.

:func:`run_tile_gemms` places a table of GEMMs (:class:`TileGemm`) and their operands in the
upper half of main memory, runs ``firmware/npu_jobs/npu_tiles`` on the simulated SoC (which
splits each GEMM across ``tiles`` tiles with ``npu_gemm_split`` and runs every tile's share
as a LIST, then polls the tiles) and returns, per GEMM, the output read back, the golden
output (:func:`dure.sim.npu_job.reference`, i.e. :mod:`dure.sim.golden`) and the counters
(:class:`TileRun`). The table layout is the one written in the firmware's header comment.

The firmware is built with the headers of the variant widened to :data:`FIRMWARE_TILES` tiles
(:func:`tiles_elf`), so one program drives any ``tiles`` up to the SoC's ``npu_tiles``,
including the single-NPU SoC (``tiles = 1``: the same LIST-based run on tile 0).
"""

import struct
from dataclasses import dataclass, field, replace

import numpy as np

from dure.config import MAX_NPU_TILES
from dure.errors import UserError

from .npu_job import reference

__all__ = ["TileGemm", "TileRun", "run_tile_gemms", "tiles_elf", "table_address",
           "list_area", "recorded_descriptors", "FIRMWARE_TILES"]

#: Tiles of the header the ``npu_tiles`` firmware is built with.
FIRMWARE_TILES = MAX_NPU_TILES
MAGIC = 0x454C4954
HEAD_WORDS, CASE_WORDS, RESULT_WORDS = 4, 16, 32
_PREC = {"int8": 0, "fp16": 1}
_OUT = {"int8": 0, "int32": 1, "fp16": 2, "fp32": 3}
_OUT_DTYPE = {"int8": np.int8, "int32": np.int32, "fp16": np.float16, "fp32": np.float32}
_SPLIT = {"cols": 0, "rows": 1}


@dataclass(frozen=True, eq=False)
class TileGemm:
    """One GEMM ``post(a @ b + bias)`` (the STORE table of :mod:`dure.rtl.npu.commands`).

    ``a`` (M, K) and ``b`` (K, N) are int8 (precision ``int8``) or float16 (``fp16``);
    ``out`` is ``int8`` / ``int32`` / ``fp16`` (INT8) or ``fp16`` / ``fp32`` (FP16); ``bias``
    (N,) int32 / float32; ``scale`` (N,) float32 (INT8 to int8 / fp16: required); ``lo`` /
    ``hi`` the int8 clamp (INT8 to int8 only here); ``split`` ``cols`` or ``rows``.
    """

    a: np.ndarray
    b: np.ndarray
    precision: str = "int8"
    out: str = "int8"
    bias: np.ndarray = None
    scale: np.ndarray = None
    zero_point: int = 0
    lo: int = -128
    hi: int = 127
    split: str = "cols"

    def __post_init__(self):
        if self.precision not in _PREC or self.out not in _OUT or self.split not in _SPLIT:
            raise ValueError(f"bad precision / out / split: {self.precision!r}, {self.out!r}, "
                             f"{self.split!r}")
        want = np.int8 if self.precision == "int8" else np.float16
        if self.a.dtype != want or self.b.dtype != want or self.a.ndim != 2 or \
                self.b.ndim != 2 or self.a.shape[1] != self.b.shape[0]:
            raise ValueError(f"a and b must be 2-D {np.dtype(want).name} with a.shape[1] == "
                             f"b.shape[0]")

    @property
    def shape(self):
        return self.a.shape[0], self.a.shape[1], self.b.shape[1]

    def golden(self):
        """The output :mod:`dure.sim.golden` defines."""
        int8_out = self.out == "int8"
        return reference(self.precision, self.a, self.b, out_dtype=self.out, bias=self.bias,
                         scale=self.scale, zero_point=self.zero_point if int8_out else 0,
                         lo=self.lo if int8_out else None, hi=self.hi if int8_out else None)


@dataclass
class TileRun:
    """What the firmware reported for one GEMM, and the outputs.

    ``record`` core cycles to plan and record every tile's LIST; ``launch`` cycles to ring the
    LISTs and FENCEs; ``cycles`` from the first doorbell until the last tile was seen idle;
    ``done[t]`` the same for tile t; ``wait[t]`` tile t's DMA grant-wait cycles (0 with one
    tile: no counter block); ``busy[t]`` tile t's NPU busy cycles; ``descriptors`` in all lists.
    """

    error: int
    record: int
    launch: int
    cycles: int
    tiles: int
    descriptors: int
    done: list = field(default_factory=list)
    wait: list = field(default_factory=list)
    busy: list = field(default_factory=list)
    output: np.ndarray = None
    expected: np.ndarray = None

    @property
    def exact(self):
        """Output equal to the golden one, bit for bit."""
        return self.output is not None and self.output.tobytes() == self.expected.tobytes()


def table_address(config):
    """Byte address of the table: the middle of main memory (the LISTs go below it)."""
    main = config.region("main")
    return main.base + main.size // 2


def list_area(config):
    """Bytes the ``npu_tiles`` firmware records its LISTs into: the lower half of main memory
    (below :func:`table_address`; 2 MiB with the ``sim`` memories)."""
    return config.region("main").size // 2


def recorded_descriptors(config, gemm, tiles):
    """Descriptors per tile that ``npu_gemm_split`` records for ``gemm`` (a :class:`TileGemm`)
    over ``tiles`` tiles of ``config``'s NPU: the shares of the firmware (whole array-width
    column tiles, or rows), each the one GEMM planner's stream for its sub-GEMM
    (:func:`dure.sim.gemm_descriptors.gemm_descriptors`, which the firmware's C planner emits
    stream for stream). Tiles without a share are left out, as the firmware leaves them idle.
    The lists take 32 bytes a descriptor of :func:`list_area`."""
    from dure.rtl.npu.commands import OutType, Precision

    from .gemm_descriptors import gemm_descriptors

    m, k, n = gemm.shape
    cols = config.npu_cols
    counts = []
    for t in range(tiles):
        if gemm.split == "rows":
            base, extra = divmod(m, tiles)
            mm, nn = base + (t < extra), n
        else:
            units = -(-n // cols)
            base, extra = divmod(units, tiles)
            j0, nj = t * base + min(t, extra), base + (t < extra)
            mm, nn = m, min((j0 + nj) * cols, n) - j0 * cols
        if mm <= 0 or nn <= 0:
            break
        counts.append(len(gemm_descriptors(
            config, mm, k, nn, precision=Precision[gemm.precision.upper()], a_addr=0,
            a_stride=k, b_addr=0, b_stride=n, out_addr=0, out_stride=n,
            out=OutType[gemm.out.upper()], bias_addr=0 if gemm.bias is not None else None,
            scale_addr=0 if gemm.scale is not None else None)))
    return counts


def tiles_elf(config):
    """``npu_tiles.elf`` for ``config``'s NPU (built on demand, cached)."""
    from .npu_job_build import job_elf
    wide = replace(config, name=f"{config.name}-tilefw", npu_tiles=FIRMWARE_TILES,
                   main_bandwidth="shared")
    return job_elf(wide, "npu_tiles")


class _Placer:
    def __init__(self, base):
        self.base = self.next = base
        self.chunks = []

    def put(self, data, align=64):
        self.next = (self.next + align - 1) // align * align
        addr = self.next
        self.chunks.append((addr, bytes(data)))
        self.next += len(data)
        return addr

    def reserve(self, length, align=64):
        self.next = (self.next + align - 1) // align * align
        addr = self.next
        self.next += length
        return addr


def _arr(x, dtype):
    return np.ascontiguousarray(x, dtype=dtype).tobytes()


def run_tile_gemms(config, gemms, tiles=None, *, irq_check=False, max_cycles=200_000_000):
    """Run ``gemms`` split across ``tiles`` tiles (default ``config.npu_tiles``); returns one
    :class:`TileRun` per GEMM. ``irq_check``: afterwards the firmware waits for a FENCE
    interrupt on each tile in turn (each tile's own line must wake the core).

    Raises UserError when the operands do not fit, when a GEMM's lists
    (:func:`recorded_descriptors`) do not fit the firmware's :func:`list_area` (checked on the
    host before the run: recording them would cost the core ~150-260 cycles a descriptor only
    to end in ``NPU_E_NO_MEMORY``; :func:`dure.compiler.tile_bench.gemm_point` builds such
    lists on the host, in whatever main memory the operands leave) or when the firmware fails
    (a run that ends with an error code is returned with ``error`` set)."""
    from .runner import run_elf

    tiles = config.npu_tiles if tiles is None else tiles
    if not 1 <= tiles <= config.npu_tiles:
        raise ValueError(f"tiles must be in 1..{config.npu_tiles}, not {tiles!r}")
    area = list_area(config)
    for g in gemms:
        need = 32 * sum(recorded_descriptors(config, g, tiles))
        if need > area:
            m, k, n = g.shape
            raise UserError(f"the {m}x{k}x{n} GEMM over {tiles} tiles records {need // 32} "
                            f"descriptors ({need} bytes of LISTs); the npu_tiles firmware "
                            f"records into the lower half of main memory, {area} bytes (use "
                            f"host-built lists: dure.compiler.tile_bench.gemm_point)")
    table = table_address(config)
    main_end = config.region("main").end
    head = HEAD_WORDS + (CASE_WORDS + RESULT_WORDS) * len(gemms)
    place = _Placer(table)
    place.reserve(4 * head)
    cases, outs = [], []
    for g in gemms:
        m, k, n = g.shape
        a = place.put(g.a.tobytes())
        b = place.put(g.b.tobytes())
        bias = place.put(_arr(g.bias, np.int32 if g.precision == "int8" else np.float32)) \
            if g.bias is not None else 0
        scale = place.put(_arr(g.scale, np.float32)) if g.scale is not None else 0
        out_bytes = m * n * np.dtype(_OUT_DTYPE[g.out]).itemsize
        out = place.reserve(out_bytes)
        outs.append((out, out_bytes))
        cases.append([_PREC[g.precision], _OUT[g.out], m, k, n, _SPLIT[g.split], a, b, out,
                      bias, scale, g.zero_point & 0xFFFF_FFFF, g.lo & 0xFFFF_FFFF,
                      g.hi & 0xFFFF_FFFF, 0, 0])
    if place.next > main_end:
        raise UserError(f"the operands need {place.next - table} bytes from 0x{table:08X}; "
                        f"main memory ends at 0x{main_end:08X}")
    words = [MAGIC, tiles, len(gemms), int(irq_check)] + [w for c in cases for w in c]
    data = [(table, struct.pack(f"<{len(words)}I", *words))] + place.chunks
    results = table + 4 * (HEAD_WORDS + CASE_WORDS * len(gemms))
    dumps = [(results, 4 * RESULT_WORDS * len(gemms))] + outs
    result = run_elf(tiles_elf(config), config=config, max_cycles=max_cycles, data=data,
                     dumps=dumps)
    uart = result.uart.decode("latin-1")
    if result.status not in ("pass", "fail"):
        raise UserError(f"npu_tiles: {result.status} after {result.cycles} cycles\n{uart}")
    raw = result.dumps[dumps[0]]
    runs = []
    for i, g in enumerate(gemms):
        r = struct.unpack_from(f"<{RESULT_WORDS}I", raw, 4 * RESULT_WORDS * i)
        used = r[4]
        run = TileRun(error=r[0], record=r[1], launch=r[2], cycles=r[3], tiles=used,
                      descriptors=r[5], done=list(r[6:6 + used]), wait=list(r[14:14 + used]),
                      busy=list(r[22:22 + used]), expected=g.golden())
        out = np.frombuffer(result.dumps[dumps[1 + i]], dtype=_OUT_DTYPE[g.out])
        run.output = out.reshape(g.shape[0], g.shape[2])
        runs.append(run)
    if result.status == "fail" and not any(r.error for r in runs):
        raise UserError(f"npu_tiles failed ({result.failure}) without a GEMM error\n{uart}")
    return runs

"""The NPU job table: the binary format Python writes into main memory for the ``npu_job``
firmware (firmware/npu_jobs/npu_job/) and the firmware writes its results into, and
:func:`generate_header`, the text of the C header ``npu_job.h`` the firmware includes (nothing
is hand-copied). :mod:`dure.sim.npu_job` builds and runs jobs in this format.

Table format (all fields little-endian uint32)
----------------------------------------------
At :func:`table_address` (the first byte of main memory) lies a header
(:data:`HEADER_FIELDS`) followed by ``n_layers`` layer records (:data:`LAYER_FIELDS`), each
:data:`LAYER_WORDS` words. Operands and outputs follow the table in main memory (the firmware
opens the DMA window on all of main memory, so any main-memory address is valid).

Header: ``magic`` (:data:`MAGIC`, "DJOB"), ``version`` (:data:`VERSION`), ``n_layers``,
``done`` (the firmware writes the number of layers it finished), ``scratch`` and
``scratch_size`` (the main-memory range after the job's buffers that the firmware hands to the
driver's allocator, ``npu_alloc_init``: convolutions build their im2col matrix there), then
reserved words.

Layer record, inputs (written by Python): the fields of the driver's ``struct npu_gemm``:
``prec`` (0 INT8, 1 FP16), ``out_type`` (0 int8, 1 int32, 2 fp16, 3 fp32; the STORE table of
:mod:`dure.rtl.npu.commands`), ``m``, ``k``, ``n``, ``a``, ``a_stride``, ``b``, ``b_stride``,
``out``, ``out_stride`` (byte addresses and byte strides), ``bias`` and ``scale`` (addresses, 0
for none), ``zero_point`` (int8, two's complement), ``clamp`` (float outputs: apply
``lo``/``hi``), ``lo``, ``hi`` (INT8 output: integers in [-128, 127], always applied; float
outputs: fp32 bit patterns), ``flags`` (:data:`FLAG_CPU_CHECK`: also compute the layer on the
CPU reference path into ``cpu_out`` and compare byte for byte), ``cpu_out``; then ``kind``
(:data:`KIND_GEMM`, :data:`KIND_CONV2D`, :data:`KIND_COMMANDS` or :data:`KIND_LIST`) and the
convolution's shape (zero for a GEMM):
``batch``, ``h``, ``w``, ``cin``, ``cout``, ``kh``, ``kw``, ``stride``, ``pad``, ``pad_value``
(int8, two's complement; 0 for FP16, whose padding is +0.0).

A convolution layer is ``struct npu_conv2d``: ``a`` is the NHWC input (batch x h x w x cin),
``b`` the HWIO weights (kh x kw x cin x cout), ``out`` the NHWC output (batch x oh x ow x cout,
dense); the post-processing fields are the GEMM's (``out_type`` is int8 for INT8 and fp16 for
FP16, the only outputs of ``npu_conv2d``; the clamp becomes ``NPU_ACT_CLAMP`` with ``lo``/``hi``).
``m``, ``k``, ``n`` and the strides hold the GEMM the convolution is: ``m = batch*oh*ow``,
``k = kh*kw*cin`` in (ky, kx, ci) order, ``n = cout`` (see
:func:`dure.sim.npu_job_reference.im2col`).

A commands layer (:meth:`dure.sim.npu_job.Job.commands`) is a prepared descriptor list: ``a``
holds the address of ``m`` descriptors (8 words each; in on-chip RAM or main memory), ``out``
the output the list writes; the firmware pushes them in order through CMD0..7 / DOORBELL and
waits with a FENCE; no other field is read and there is no CPU path (``flags`` must be 0).
The lowered operators of :mod:`dure.sim.conv_plan`, :mod:`dure.sim.pool_plan` and
:mod:`dure.sim.eltwise_plan` run this way (:meth:`dure.sim.npu_job.Job.layer_program`), their
parameter bytes placed by Python.

A list layer (:data:`KIND_LIST`, :meth:`dure.sim.npu_job.Job.commands` with ``as_list``) is
the same prepared descriptor list, always in main memory (the NPU's DMA window), run by the NPU
itself: the firmware rings one LIST doorbell per 65535 descriptors (``npu_op_run``: the NPU
fetches the descriptors by DMA) and waits with a FENCE, so the core pushes two descriptors
instead of ``m``.

Layer record, results (written by the firmware): ``status`` (0 not run, 1 ran), ``error``
(0, an NPU error code, or a negative driver code), ``cycles`` (rdcycle around ``npu_gemm``:
descriptor pushes, NPU run and the final fence), ``check`` (0 not checked, 1 equal,
2 different), ``cpu_cycles`` (the CPU path), and the NPU performance counters over the layer
(``perf_*``, 64-bit as lo/hi pairs).

For a convolution ``cycles`` covers all of ``npu_conv2d``, including the im2col the core
writes into the scratch range before the NPU starts.

The firmware also prints one line per layer on the UART::

    NPUJOB layer=I err=E cycles=C macs=M busy=B compute=P dma_rd=R dma_wr=W stall_dep=D
           stall_mem=S stall_out=O check=K cpu_cycles=Q

(one line, counters as 32-bit decimals; the table holds the 64-bit values) and exits with pass
when every layer ran without error and every requested check agreed; failure 1 means no job
table or no NPU, failure 2 + i that layer i failed (earlier layers are complete).
"""

import numpy as np
from dure.rtl.npu.commands import PERF_COUNTERS, STORE_COMBINATIONS

from dure.config import preset

__all__ = [
    "MAGIC", "VERSION", "HEADER_FIELDS", "HEADER_WORDS", "LAYER_FIELDS", "LAYER_WORDS",
    "FLAG_CPU_CHECK", "KIND_GEMM", "KIND_CONV2D", "KIND_COMMANDS", "KIND_LIST", "PRECISIONS",
    "OUT_TYPES", "LEGAL_OUT", "STACK_RESERVE", "table_address", "generate_header",
]

MAGIC = 0x424F_4A44          # "DJOB" little-endian
VERSION = 2
FLAG_CPU_CHECK = 1
KIND_GEMM = 0
KIND_CONV2D = 1
KIND_COMMANDS = 2
KIND_LIST = 3
#: Bytes of on-chip RAM below its top kept free of command lists (the firmware's stack).
STACK_RESERVE = 16 * 1024

HEADER_FIELDS = ("magic", "version", "n_layers", "done", "scratch", "scratch_size",
                 "reserved0", "reserved1")
_CONV_FIELDS = ("batch", "h", "w", "cin", "cout", "kh", "kw", "stride", "pad", "pad_value")
_LAYER_INPUTS = ("prec", "out_type", "m", "k", "n", "a", "a_stride", "b", "b_stride", "out",
                 "out_stride", "bias", "scale", "zero_point", "clamp", "lo", "hi", "flags",
                 "cpu_out", "kind") + _CONV_FIELDS
_PERF = tuple(name.lower() for name in PERF_COUNTERS)
_LAYER_RESULTS = ("status", "error", "cycles", "check", "cpu_cycles") + tuple(
    f"perf_{name}_{half}" for name in _PERF for half in ("lo", "hi"))
LAYER_FIELDS = _LAYER_INPUTS + _LAYER_RESULTS
LAYER_WORDS = len(LAYER_FIELDS)
HEADER_WORDS = len(HEADER_FIELDS)

#: Precision names and their encodings (``prec``).
PRECISIONS = {"int8": 0, "fp16": 1}
#: Output types and encodings (``out_type``), with the numpy dtype of each.
OUT_TYPES = {"int8": (0, np.int8), "int32": (1, np.int32), "fp16": (2, np.float16),
             "fp32": (3, np.float32)}
#: Legal output types per precision (the STORE table of :mod:`dure.rtl.npu.commands`), the
#: first being the default.
LEGAL_OUT = {precision.name.lower(): tuple(out.name.lower() for (acc, out) in STORE_COMBINATIONS
                                           if acc == precision)
             for precision in dict.fromkeys(acc for acc, _ in STORE_COMBINATIONS)}


def table_address(config):
    """Byte address of the job table: the first byte of main memory."""
    return config.region("main").base


def generate_header(config=None):
    """Text of ``npu_job.h``: the table's structs, magic, version, flags and address."""
    config = config or preset("sim")
    lines = [
        "/* npu_job.h: the NPU job table (generated from sim/npu_job_table.py; do not edit). */",
        "#ifndef DURE_NPU_JOB_H",
        "#define DURE_NPU_JOB_H",
        "",
        "#include <stdint.h>",
        "",
        f"#define NPU_JOB_MAGIC 0x{MAGIC:08X}u",
        f"#define NPU_JOB_VERSION {VERSION}u",
        f"#define NPU_JOB_FLAG_CPU_CHECK {FLAG_CPU_CHECK}u",
        f"#define NPU_JOB_KIND_GEMM {KIND_GEMM}u",
        f"#define NPU_JOB_KIND_CONV2D {KIND_CONV2D}u",
        f"#define NPU_JOB_KIND_COMMANDS {KIND_COMMANDS}u",
        f"#define NPU_JOB_KIND_LIST {KIND_LIST}u",
        f"#define NPU_JOB_TABLE_ADDR 0x{table_address(config):08X}u",
        f"#define NPU_JOB_LAYER_WORDS {LAYER_WORDS}u",
        "",
        "struct npu_job_header {",
        *(f"    uint32_t {name};" for name in HEADER_FIELDS),
        "};",
        "",
        "struct npu_job_layer {",
        "    /* inputs (Python) */",
        *(f"    uint32_t {name};" for name in _LAYER_INPUTS),
        "    /* results (firmware) */",
        *(f"    uint32_t {name};" for name in _LAYER_RESULTS),
        "};",
        "",
        f"_Static_assert(sizeof(struct npu_job_header) == {4 * HEADER_WORDS}, "
        "\"job header layout\");",
        f"_Static_assert(sizeof(struct npu_job_layer) == {4 * LAYER_WORDS}, "
        "\"job layer layout\");",
        "",
        "#endif",
        "",
    ]
    return "\n".join(lines)

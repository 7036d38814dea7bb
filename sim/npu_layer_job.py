"""Layers lowered on the core: a table of NHWC layers that Python places in main memory for the
``npu_layer`` firmware (firmware/npu_apps/npu_layer/), which builds each layer's descriptor
list with the C operators of ``npu_ops.h`` (the port of :mod:`dure.sim.conv_plan` /
:mod:`dure.sim.pool_plan`), runs it as LISTs and writes per-layer results back.

This module is the one definition of the table; the firmware includes ``npu_layer.h``,
generated from it by :func:`generate_header`.

Table format (little-endian uint32 words) at the first byte of main memory: a header
(:data:`HEADER_FIELDS`: ``magic`` :data:`MAGIC`, ``n_layers``, ``done``, reserved) and then
``n_layers`` records of :data:`LAYER_FIELDS`. Inputs: ``op`` (:data:`OPS`), ``prec`` (0 INT8, 1
FP16), the NHWC input shape ``batch, h, w, cin``, ``cout``, the window ``kh, kw``, strides,
``padding`` (0 SAME, 1 VALID), byte addresses of the input ``x``, ``weights`` (OHWI; depthwise
1 x kh x kw x cin), ``bias`` / ``multiplier`` / ``shift`` / ``scale`` (0 for none) and the
output ``out`` (INT8 with ``scale`` and no ``multiplier``: the float-scale requantization;
``add``: ``weights`` is the second input, ``multiplier`` / ``shift`` hold three words each,
input 1, input 2 and the output, of the AddParams, left shift 20), the zero points
(``input2_zero_point``: ADD's second input), the clamp (``lo`` / ``hi``: INT8 integers; FP16:
``clamp`` with ``flo`` / ``fhi`` fp32 bits), the list buffer (``list``, ``list_cap``
descriptors) and the parameter area (``param``, ``param_cap`` bytes) used when the firmware's
on-chip RAM buffers are too small. Results: ``status`` (1 ran), ``error`` (0, a negative
NPU_E_* of the operator or an NPU error code), ``count`` (descriptors), ``cycles`` (rdcycle
from before the list is built to the end of the FENCE wait: every cycle of the layer, the core
building the list part by part while the NPU runs the finished parts as LISTs),
``build_cycles`` (of those, until the last part was handed on), ``param_cycles`` (before that
and not in ``cycles``: the core writing the parameter bytes, work a compiler does offline) and
the NPU performance counters (64-bit lo/hi pairs).

The firmware prints ``NPULAYER layer=I err=E count=N cycles=C build=B params=P`` per layer and
exits with pass when every layer ran without error (failure 1: no table or no NPU; 2 + i:
layer i).
"""

import fcntl
import struct
import subprocess
import sys

import numpy as np
from dure.rtl.npu.commands import PERF_COUNTERS

from dure.config import preset
from dure.errors import UserError

from .npu_job_build import _write_if_changed, firmware_root
from .rtlgen import build_root

__all__ = ["MAGIC", "OPS", "HEADER_FIELDS", "LAYER_FIELDS", "generate_header", "LayerTable",
           "layer_elf"]

MAGIC = 0x5941_4C44          # "DLAY" little-endian
OPS = {"conv": 0, "depthwise": 1, "avgpool": 2, "maxpool": 3, "add": 4}
HEADER_FIELDS = ("magic", "n_layers", "done", "reserved")
_INPUTS = ("op", "prec", "batch", "h", "w", "cin", "cout", "kh", "kw", "stride_h", "stride_w",
           "padding", "x", "weights", "bias", "multiplier", "shift", "scale", "out",
           "input_zero_point", "output_zero_point", "lo", "hi", "clamp", "flo", "fhi",
           "input2_zero_point", "list",
           "list_cap", "param", "param_cap")
_PERF = tuple(name.lower() for name in PERF_COUNTERS)
_RESULTS = ("status", "error", "count", "cycles", "build_cycles", "param_cycles") + tuple(
    f"perf_{name}_{half}" for name in _PERF for half in ("lo", "hi"))
LAYER_FIELDS = _INPUTS + _RESULTS
PROGRAM = "npu_layer"


def generate_header(config=None):
    """Text of ``npu_layer.h``: the table's structs, magic and address."""
    config = config or preset("sim")
    lines = ["/* npu_layer.h: the layer table of npu_layer (generated from "
             "sim/npu_layer_job.py; do not edit). */",
             "#ifndef DURE_NPU_LAYER_H", "#define DURE_NPU_LAYER_H", "", "#include <stdint.h>",
             "", f"#define NPU_LAYER_MAGIC 0x{MAGIC:08X}u",
             f"#define NPU_LAYER_TABLE_ADDR 0x{config.region('main').base:08X}u"]
    lines += [f"#define NPU_LAYER_OP_{name.upper()} {value}u" for name, value in OPS.items()]
    lines += ["", "struct npu_layer_header {", *(f"    uint32_t {n};" for n in HEADER_FIELDS),
              "};", "", "struct npu_layer_rec {", "    /* inputs (Python) */",
              *(f"    uint32_t {n};" for n in _INPUTS), "    /* results (firmware) */",
              *(f"    uint32_t {n};" for n in _RESULTS), "};", "",
              f"_Static_assert(sizeof(struct npu_layer_rec) == {4 * len(LAYER_FIELDS)}, "
              "\"layer record layout\");", "", "#endif", ""]
    return "\n".join(lines)


def layer_elf(config):
    """Path of ``npu_layer.elf`` built for ``config`` (with its headers), built when needed."""
    from dure import header

    firmware = firmware_root()
    base = build_root() / f"firmware-layer-{config.name}"
    include, out = base / "include", base / "firmware"
    include.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _write_if_changed(include / "dure_soc.h", header.generate_header(config))
        _write_if_changed(include / "dure_npu.h", header.generate_npu_header(config))
        _write_if_changed(include / "npu_layer.h", generate_header(config))
        done = subprocess.run(
            ["make", "-s", "-C", str(firmware), f"PY={sys.executable}", f"BUILD={out}",
             f"GEN_INCLUDE={include}", f"PROGRAM_DIRS={firmware / 'npu_apps'}",
             str(out / f"{PROGRAM}.elf")], capture_output=True, text=True)
    if done.returncode:
        tail = (done.stdout + done.stderr).strip()[-1500:]
        raise UserError(f"building {PROGRAM}.elf failed:\n{tail}")
    return out / f"{PROGRAM}.elf"


def _u32(v):
    return int(v) & 0xFFFF_FFFF


def _f32_bits(v):
    return int(np.float32(v).view(np.uint32))


class LayerTable:
    """Layers for one run of ``npu_layer``: :meth:`add` places a layer's operands, :meth:`run`
    runs the firmware and returns each layer's output and results."""

    def __init__(self, config, *, max_layers=8, list_cap=16384, param_cap=1 << 20):
        self.config = config
        self._main = config.region("main")
        self._next = self._main.base + 16 + 4 * len(LAYER_FIELDS) * max_layers
        self._max = max_layers
        self._list_cap, self._param_cap = list_cap, param_cap
        self.records, self._data, self.outputs = [], [], []

    def _alloc(self, nbytes):
        addr = (self._next + 15) & ~15
        if addr + nbytes > self._main.base + self._main.size:
            raise UserError(f"the layer table's buffers exceed main memory ({nbytes} bytes)")
        self._next = addr + nbytes
        return addr

    def _put(self, array):
        if array is None:
            return 0
        data = np.ascontiguousarray(array).tobytes()
        addr = self._alloc(len(data))
        self._data.append((addr, data))
        return addr

    def add(self, op, precision, x, w=None, bias=None, *, cout=None, kernel=None, stride=1,
            padding="SAME", input_zero_point=0, output_zero_point=0, multiplier=None,
            shift=None, scale=None, lo=None, hi=None, input2_zero_point=0, add_params=None):
        """Append one layer (the arguments of the Python planners; ``kernel`` for pooling,
        ``w`` for convolutions; INT8 convolutions with ``scale`` and no ``multiplier`` use the
        float-scale requantization; ``add``: ``x`` and ``w`` the two int8 inputs of one shape,
        ``add_params`` an :class:`~dure.sim.golden_tflite_params.AddParams`, zero points
        ``input_zero_point`` / ``input2_zero_point`` / ``output_zero_point``); returns its
        index."""
        if len(self.records) >= self._max:
            raise UserError(f"at most {self._max} layers")
        batch, h, wd, cin = x.shape
        fp16 = precision == "fp16"
        if op in ("avgpool", "maxpool"):
            kh, kw = kernel
            cout = cin
        elif op == "add":
            kh = kw = 1
            cout = cin
        elif op == "depthwise":
            _, kh, kw, cout = w.shape
        else:
            cout, kh, kw, _ = w.shape
        sh, sw = (stride, stride) if np.isscalar(stride) else stride
        mult = shf = None
        if op == "add":
            mult = np.array([add_params.input1_multiplier, add_params.input2_multiplier,
                             add_params.output_multiplier], np.int32)
            shf = np.array([add_params.input1_shift, add_params.input2_shift,
                            add_params.output_shift], np.int32)
        elif not fp16 and op not in ("avgpool", "maxpool") and multiplier is not None:
            mult = np.broadcast_to(np.asarray(multiplier, np.int32), (cout,)).copy()
            shf = np.broadcast_to(np.asarray(shift, np.int32), (cout,)).copy()
        eb = 2 if fp16 else 1
        _, oh, ow = _out_hw(h, wd, kh, kw, sh, sw, padding)
        out = self._alloc(batch * oh * ow * cout * eb)
        clamp = int(fp16 and (lo is not None or hi is not None))
        rec = dict(op=OPS[op], prec=int(fp16), batch=batch, h=h, w=wd, cin=cin, cout=cout,
                   kh=kh, kw=kw, stride_h=sh, stride_w=sw,
                   padding=0 if padding.upper() == "SAME" else 1, x=self._put(x),
                   weights=self._put(w), bias=self._put(bias), multiplier=self._put(mult),
                   shift=self._put(shf), scale=self._put(scale), out=out,
                   input_zero_point=_u32(input_zero_point),
                   output_zero_point=_u32(output_zero_point),
                   lo=_u32(-128 if lo is None or fp16 else lo),
                   hi=_u32(127 if hi is None or fp16 else hi), clamp=clamp,
                   flo=_f32_bits(-np.inf if lo is None else lo) if fp16 else 0,
                   fhi=_f32_bits(np.inf if hi is None else hi) if fp16 else 0,
                   input2_zero_point=_u32(input2_zero_point))
        rec["list"] = self._alloc(32 * self._list_cap)
        rec["list_cap"] = self._list_cap
        rec["param"] = self._alloc(self._param_cap)
        rec["param_cap"] = self._param_cap
        self.records.append(rec)
        self.outputs.append((out, (batch, oh, ow, cout), np.float16 if fp16 else np.int8))
        return len(self.records) - 1

    def table(self):
        words = [MAGIC, len(self.records), 0, 0]
        for rec in self.records:
            words += [rec[name] for name in _INPUTS] + [0] * len(_RESULTS)
        return struct.pack(f"<{len(words)}I", *words)

    def run(self, elf=None, *, max_cycles=200_000_000):
        """Run the firmware; returns ``(outputs, results)``: per layer the output array and a
        dict of the result fields (``error`` signed, 64-bit counters by name). Raises
        UserError when the firmware did not pass."""
        from .runner import run_elf

        elf = elf or layer_elf(self.config)
        base = self._main.base
        table_bytes = 16 + 4 * len(LAYER_FIELDS) * len(self.records)
        dumps = [(base, table_bytes)]
        for addr, shape, dtype in self.outputs:
            dumps.append((addr, int(np.prod(shape)) * np.dtype(dtype).itemsize))
        result = run_elf(elf, config=self.config, max_cycles=max_cycles,
                         data=[(base, self.table())] + self._data, dumps=dumps)
        if result.status != "pass":
            tail = result.uart.decode("latin-1")[-600:]
            raise UserError(f"npu_layer firmware: {result.status} (failure {result.failure}); "
                            f"UART: {tail.strip()!r}")
        raw = result.dumps[(base, table_bytes)]
        words = struct.unpack(f"<{len(raw) // 4}I", raw)
        results = []
        for i in range(len(self.records)):
            rec = words[4 + i * len(LAYER_FIELDS):4 + (i + 1) * len(LAYER_FIELDS)]
            fields = dict(zip(LAYER_FIELDS, rec, strict=True))
            stats = {name: fields[name] for name in _RESULTS}
            stats["error"] = struct.unpack("<i", struct.pack("<I", stats["error"]))[0]
            for name in _PERF:
                stats[name] = fields[f"perf_{name}_lo"] | fields[f"perf_{name}_hi"] << 32
            results.append(stats)
        outputs = []
        for addr, shape, dtype in self.outputs:
            raw = result.dumps[(addr, int(np.prod(shape)) * np.dtype(dtype).itemsize)]
            outputs.append(np.frombuffer(raw, dtype).reshape(shape).copy())
        return outputs, results


def _out_hw(h, w, kh, kw, sh, sw, padding):
    from .golden_padding import conv_padding

    oh = conv_padding(h, kh, sh, padding)[0]
    ow = conv_padding(w, kw, sw, padding)[0]
    return None, oh, ow

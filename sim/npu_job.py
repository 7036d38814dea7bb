"""NPU jobs: a table of layers (GEMMs and 2-D convolutions) that Python places in main memory
for the ``npu_job`` firmware (firmware/npu_jobs/npu_job/), which runs each layer on the NPU
through the driver library (``npu_gemm`` / ``npu_conv2d``) and writes per-layer results back
into the table.

This module builds and runs jobs (:class:`Job`, :class:`JobResult`). The table's format, its
one definition, is :mod:`dure.sim.npu_job_table`, whose :func:`generate_header` writes the
``npu_job.h`` the C side includes (nothing is hand-copied); what each layer computes is
:mod:`dure.sim.npu_job_reference` (:func:`reference` and :func:`reference_conv2d` give each
layer's output per :mod:`dure.sim.golden`). Both modules' names are importable from here too.

Example
-------
>>> job = Job(preset("sim"))                                       # doctest: +SKIP
>>> h = job.gemm(x, w1, precision="int8", bias=b1, scale=s1, zero_point=0, lo=0, hi=127)
>>> y = job.gemm(h, w2, precision="int8", bias=b2, out_dtype="int32")
>>> f = job.conv2d(img, k3, precision="int8", stride=2, pad=1, scale=s, lo=0)  # NHWC, HWIO
>>> z = job.gemm(f.reshape(len(img), -1), w3, precision="int8", scale=s3, out_dtype="fp16")
>>> result = job.run()                                             # doctest: +SKIP
>>> result.read(y), result.layers[0]["cycles"]                     # doctest: +SKIP
"""

import struct
from dataclasses import dataclass

import numpy as np

from dure.config import preset
from dure.errors import UserError

from .npu_job_reference import conv_out_size, im2col, reference, reference_conv2d
from .npu_job_table import (
    _LAYER_INPUTS,
    _LAYER_RESULTS,
    _PERF,
    FLAG_CPU_CHECK,
    HEADER_FIELDS,
    HEADER_WORDS,
    KIND_COMMANDS,
    KIND_CONV2D,
    KIND_GEMM,
    KIND_LIST,
    LAYER_FIELDS,
    LAYER_WORDS,
    LEGAL_OUT,
    MAGIC,
    OUT_TYPES,
    PRECISIONS,
    STACK_RESERVE,
    VERSION,
    generate_header,
    table_address,
)

__all__ = [
    "MAGIC", "VERSION", "HEADER_FIELDS", "LAYER_FIELDS", "LAYER_WORDS", "FLAG_CPU_CHECK",
    "KIND_GEMM", "KIND_CONV2D", "KIND_COMMANDS", "KIND_LIST", "PRECISIONS", "OUT_TYPES",
    "LEGAL_OUT", "Buffer", "Job",
    "JobResult", "table_address", "generate_header", "reference", "reference_conv2d", "im2col",
    "conv_out_size",
]

_OPERAND = {"int8": np.int8, "fp16": np.float16}
_BIAS = {"int8": np.int32, "fp16": np.float32}


@dataclass(frozen=True)
class Buffer:
    """A 2-D (or 1-D) array at a main-memory address: ``shape`` and numpy ``dtype``."""

    addr: int
    shape: tuple
    dtype: np.dtype

    @property
    def nbytes(self):
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize

    @property
    def row_stride(self):
        return self.shape[-1] * np.dtype(self.dtype).itemsize

    def reshape(self, *shape):
        """The same bytes seen with another shape (numpy rules, one ``-1`` allowed); e.g. an
        NHWC convolution output ``(n, oh, ow, c)`` as the ``(n, oh*ow*c)`` input of a GEMM."""
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape
        try:
            new = np.empty(self.shape, dtype=np.bool_).reshape(shape).shape
        except ValueError:
            raise UserError(f"cannot reshape a buffer of shape {self.shape} to {shape}") from None
        return Buffer(self.addr, tuple(int(d) for d in new), self.dtype)


def _f32_bits(value):
    return int(np.array(value, dtype=np.float32).view(np.uint32))


class Job:
    """Builder of one job: operands, layers, and the run on the simulated SoC.

    Parameters
    ----------
    config : SoCConfig, optional
        Variant (default ``preset("sim")``); main memory holds the table and every buffer.
    """

    def __init__(self, config=None, *, max_layers=64):
        self.config = config or preset("sim")
        if not self.config.npu_rows:
            raise UserError(f"variant {self.config.name!r} has no NPU")
        self._main = self.config.region("main")
        self._max_layers = max_layers
        self._next = table_address(self.config) + 4 * (HEADER_WORDS + LAYER_WORDS * max_layers)
        self._data = []          # (addr, bytes)
        self.layers = []         # dicts of the input fields, plus bookkeeping
        self._values = {}        # Buffer -> ndarray placed by put()

    def _alloc(self, nbytes, align=16):
        addr = (self._next + align - 1) & ~(align - 1)
        if addr + nbytes > self._main.end:
            raise UserError(f"the job does not fit in main memory ({self._main.size} bytes): "
                            f"{addr + nbytes - self._main.base} bytes needed")
        self._next = addr + nbytes
        return addr

    def put(self, array):
        """Place ``array`` (C order) in main memory; return its :class:`Buffer`."""
        array = np.ascontiguousarray(array)
        buf = Buffer(self._alloc(array.nbytes), tuple(array.shape), array.dtype)
        self._data.append((buf.addr, array.tobytes()))
        self._values[buf] = array
        return buf

    def empty(self, shape, dtype):
        """Reserve an output buffer (zero-filled at start)."""
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        return Buffer(self._alloc(nbytes), tuple(shape), dtype)

    def _operand(self, value):
        return value if isinstance(value, Buffer) else self.put(value)

    def _post(self, precision, out_dtype, n, bias, scale, zero_point, lo, hi):
        """Check the post-processing arguments of a layer with ``n`` output channels; return
        ``(table fields, spec, out dtype code, numpy dtype)``."""
        bias_buf = scale_buf = None
        if bias is not None:
            bias_buf = self._operand(bias)
            if bias_buf.shape != (n,) or bias_buf.dtype != _BIAS[precision]:
                raise UserError(f"bias must be {np.dtype(_BIAS[precision]).name} of shape "
                                f"({n},), not {bias_buf.dtype} {bias_buf.shape}")
        if scale is not None:
            scale_buf = self._operand(scale)
            if scale_buf.shape != (n,) or scale_buf.dtype != np.float32:
                raise UserError(f"scale must be float32 of shape ({n},), not "
                                f"{scale_buf.dtype} {scale_buf.shape}")
        needs_scale = {("int8", "int8"): True, ("int8", "int32"): False,
                       ("int8", "fp16"): True}.get((precision, out_dtype))
        if needs_scale is True and scale_buf is None:
            raise UserError(f"{precision} -> {out_dtype} needs a scale")
        if needs_scale is False and scale_buf is not None:
            raise UserError(f"{precision} -> {out_dtype} takes no scale (raw accumulators)")
        code, odt = OUT_TYPES[out_dtype]
        if out_dtype == "int8":
            lo = -128 if lo is None else int(lo)
            hi = 127 if hi is None else int(hi)
            if not -128 <= lo <= hi <= 127:
                raise UserError(f"int8 clamp needs -128 <= lo <= hi <= 127, not {lo},{hi}")
            if not -128 <= int(zero_point) <= 127:
                raise UserError(f"zero point must be in [-128, 127], not {zero_point}")
            clamp, lo_w, hi_w = 0, lo & 0xFFFF_FFFF, hi & 0xFFFF_FFFF
        else:
            if int(zero_point):
                raise UserError("a zero point applies to int8 output only")
            if out_dtype == "int32" and (lo is not None or hi is not None):
                raise UserError("int32 output is raw: no clamp")
            clamp = int(lo is not None or hi is not None)
            flo = np.float32(-np.inf if lo is None else lo)
            fhi = np.float32(np.inf if hi is None else hi)
            if clamp and (np.isnan(flo) or np.isnan(fhi) or flo > fhi):
                raise UserError(f"float clamp needs lo <= hi, neither NaN, not {lo},{hi}")
            lo_w, hi_w = (_f32_bits(flo), _f32_bits(fhi)) if clamp else (0, 0)
            lo, hi = (float(flo), float(fhi)) if clamp else (None, None)
        fields = {
            "prec": PRECISIONS[precision], "out_type": code,
            "bias": bias_buf.addr if bias_buf else 0, "scale": scale_buf.addr if scale_buf else 0,
            "zero_point": int(zero_point) & 0xFFFF_FFFF, "clamp": clamp, "lo": lo_w, "hi": hi_w,
        }
        spec = {"precision": precision, "out_dtype": out_dtype, "bias": bias_buf,
                "scale": scale_buf, "zero_point": int(zero_point), "lo": lo, "hi": hi}
        return fields, spec, odt

    def _check_layer(self, precision, out_dtype, legal):
        if len(self.layers) >= self._max_layers:
            raise UserError(f"a job has at most {self._max_layers} layers")
        if precision not in PRECISIONS:
            raise UserError(f"precision must be int8 or fp16, not {precision!r}")
        out_dtype = out_dtype or legal[0]
        if out_dtype not in legal:
            raise UserError(f"out dtype {out_dtype} is not available with {precision} precision"
                            f" (choose {', '.join(legal)})")
        return out_dtype

    def _append(self, fields, spec, out_shape, odt, cpu_check):
        out = self.empty(out_shape, odt)
        cpu_out = self.empty(out_shape, odt) if cpu_check else None
        fields.update(out=out.addr, flags=FLAG_CPU_CHECK if cpu_check else 0,
                      cpu_out=cpu_out.addr if cpu_out else 0)
        fields = {name: fields.get(name, 0) for name in _LAYER_INPUTS}
        self.layers.append({"fields": fields, "output": out, "spec": spec})
        return out

    def gemm(self, a, b, *, precision, bias=None, scale=None, zero_point=0, lo=None, hi=None,
             out_dtype=None, cpu_check=False):
        """Append a layer ``out = post(a @ b + bias)``; return the output :class:`Buffer`.

        ``a``, ``b``, ``bias``, ``scale`` are numpy arrays or Buffers (e.g. an earlier layer's
        output). Types are checked as the driver needs them: operands int8 (INT8) or float16
        (FP16), bias int32 / float32 of shape (N,), scale float32 (N,). ``lo``/``hi``: INT8
        output integers (default -128/127, ReLU is ``lo = zero_point``); float outputs floats
        (the clamp is on when either is given; a missing side is infinite).
        """
        out_dtype = self._check_layer(precision, out_dtype, LEGAL_OUT.get(precision))
        a, b = self._operand(a), self._operand(b)
        for name, buf in (("a", a), ("b", b)):
            if len(buf.shape) != 2 or buf.dtype != _OPERAND[precision]:
                raise UserError(f"{name} must be a 2-D {np.dtype(_OPERAND[precision]).name} "
                                f"matrix for {precision} precision, not {buf.dtype} "
                                f"{buf.shape}")
        m, k = a.shape
        k2, n = b.shape
        if k != k2:
            raise UserError(f"shapes do not chain: a is {m}x{k} but b is {k2}x{n}")
        fields, spec, odt = self._post(precision, out_dtype, n, bias, scale, zero_point, lo, hi)
        fields.update(kind=KIND_GEMM, m=m, k=k, n=n, a=a.addr, a_stride=a.row_stride,
                      b=b.addr, b_stride=b.row_stride, out_stride=n * odt().itemsize)
        spec.update(kind="gemm", a=a, b=b)
        return self._append(fields, spec, (m, n), odt, cpu_check)

    def conv2d(self, x, weights, *, precision, stride=1, pad=0, pad_value=0, bias=None,
               scale=None, zero_point=0, lo=None, hi=None, cpu_check=False):
        """Append a 2-D convolution run by the driver's ``npu_conv2d``; return the output
        :class:`Buffer`, NHWC of shape ``(batch, oh, ow, cout)``.

        ``x``: NHWC input ``(batch, h, w, cin)`` (array or Buffer; an earlier layer's output
        with :meth:`Buffer.reshape`), ``weights``: HWIO ``(kh, kw, cin, cout)``; int8 (INT8) or
        float16 (FP16). ``pad`` pixels of ``pad_value`` (INT8: an int8, normally the input's
        zero point; FP16: always +0.0, so only 0 is accepted) surround the input; ``oh =
        (h + 2 pad - kh) // stride + 1`` (``ow`` likewise). The output is int8 for INT8 (a
        scale is required) and fp16 for FP16 (the outputs ``npu_conv2d`` has); ``bias``,
        ``scale``, ``zero_point``, ``lo``, ``hi`` as in :meth:`gemm`. The numerics are those of
        the GEMM of :func:`im2col` of ``x`` with the weights as a ``(kh*kw*cin, cout)`` matrix
        (:func:`reference_conv2d`). Unless the kernel is 1x1 without padding, the firmware
        builds the im2col matrix (``batch*oh*ow`` rows of ``kh*kw*cin`` elements) in main
        memory after the job's buffers; it must fit there.
        """
        out_dtype = self._check_layer(precision, None, LEGAL_OUT.get(precision, ())[:1])
        x, w = self._operand(x), self._operand(weights)
        for name, buf, shape in (("x", x, "NHWC"), ("weights", w, "HWIO")):
            if len(buf.shape) != 4 or buf.dtype != _OPERAND[precision]:
                raise UserError(f"{name} must be a 4-D {shape} "
                                f"{np.dtype(_OPERAND[precision]).name} array for {precision} "
                                f"precision, not {buf.dtype} {buf.shape}")
        batch, h, wd, cin = x.shape
        kh, kw, cin2, cout = w.shape
        if cin != cin2:
            raise UserError(f"channels do not chain: x has {cin} but the weights take {cin2}")
        stride, pad = int(stride), int(pad)
        if stride < 1 or pad < 0:
            raise UserError(f"stride must be >= 1 and pad >= 0, not {stride}, {pad}")
        if kh > h + 2 * pad or kw > wd + 2 * pad:
            raise UserError(f"a {kh}x{kw} kernel does not fit a {h}x{wd} input padded by {pad}")
        if precision == "int8" and not -128 <= int(pad_value) <= 127:
            raise UserError(f"pad value must be an int8, not {pad_value}")
        if precision == "fp16" and pad_value != 0:
            raise UserError("fp16 convolutions pad with +0.0 (npu_conv2d): pad_value must be 0")
        oh, ow = conv_out_size(h, kh, stride, pad), conv_out_size(wd, kw, stride, pad)
        eb = np.dtype(_OPERAND[precision]).itemsize
        fields, spec, odt = self._post(precision, out_dtype, cout, bias, scale, zero_point, lo,
                                       hi)
        scratch = 0 if (kh, kw, pad) == (1, 1, 0) else batch * oh * ow * kh * kw * cin * eb
        fields.update(kind=KIND_CONV2D, m=batch * oh * ow, k=kh * kw * cin, n=cout, a=x.addr,
                      a_stride=cin * eb, b=w.addr, b_stride=cout * eb, out_stride=cout * eb,
                      batch=batch, h=h, w=wd, cin=cin, cout=cout, kh=kh, kw=kw, stride=stride,
                      pad=pad, pad_value=int(pad_value) & 0xFFFF_FFFF)
        spec.update(kind="conv2d", a=x, b=w, stride=stride, pad=pad, pad_value=int(pad_value),
                    scratch=scratch)
        mark = self._next
        out = self._append(fields, spec, (batch, oh, ow, cout), odt, cpu_check)
        try:
            self._check_scratch()
        except UserError:
            self.layers.pop()
            self._next = mark
            raise
        return out

    def commands(self, descriptors, output, *, as_list=False):
        """Append a layer that runs the prepared ``descriptors`` (lists of 8 words) in order
        and waits; ``output`` is the :class:`Buffer` the list writes (read back after the run).

        By default the core pushes each descriptor (:data:`KIND_COMMANDS`); the list is part of
        the program, like code: :meth:`run` places it in on-chip RAM after the firmware image
        (below the stack reserve) when it fits there, else in main memory. With ``as_list``
        (:data:`KIND_LIST`) the NPU fetches the list itself: one LIST doorbell (per 65535
        descriptors) and a FENCE from the core. The list goes to on-chip RAM the same way
        when the SoC's fetcher has a path of its own there (``config.npu_list_port``: a word
        a cycle beside the DMA; the firmware widens the DMA window to RAM while the layer
        runs), else to main memory (without that path the fetcher shares the DMA's port,
        whose decoder would switch between RAM and main memory at every list read).
        """
        if len(self.layers) >= self._max_layers:
            raise UserError(f"a job has at most {self._max_layers} layers")
        words = np.asarray(descriptors, dtype=np.uint32)
        if words.ndim != 2 or words.shape[1] != 8 or not len(words):
            raise UserError("descriptors must be a non-empty list of 8-word descriptors")
        fields = {name: 0 for name in _LAYER_INPUTS}
        fields.update(kind=KIND_LIST if as_list else KIND_COMMANDS, a=0, m=len(words),
                      out=output.addr)
        spec = {"kind": "commands", "words": words}
        if as_list and not self.config.npu_list_port:
            spec["addr"] = self.put(words).addr
        self.layers.append({"fields": fields, "output": output, "spec": spec})
        return output

    def _place_lists(self, elf):
        """Give every commands layer its list address: RAM after ``elf``'s image while the
        lists fit below the stack reserve (STACK_RESERVE bytes), else main memory."""
        from .elf import load_elf

        ram = self.config.region("ram")
        top = max(a + len(d) for a, d in load_elf(elf, self.config).segments if a >= ram.base)
        free, limit = (top + 15) & ~15, ram.base + ram.size - STACK_RESERVE
        placed = []
        for layer in self.layers:
            spec = layer["spec"]
            if spec.get("kind") != "commands":
                continue
            data = spec["words"].tobytes()
            if "addr" not in spec:
                if free + len(data) <= limit:
                    spec["addr"], free = free, free + (len(data) + 15) // 16 * 16
                else:
                    spec["addr"] = self.put(spec["words"]).addr
            layer["fields"]["a"] = spec["addr"]
            placed.append((spec["addr"], data))
        return [p for p in placed if p[0] >= ram.base]

    def layer_program(self, build, inputs, *, as_list=False):
        """Append a lowered layer: ``inputs`` (arrays) are placed, ``build(addrs, out_addr,
        param_addr)`` returns its :class:`~dure.sim.layer_program.LayerProgram` (``addrs``: the
        inputs' addresses), whose parameter bytes are placed too; returns ``(output Buffer,
        program)``. ``as_list``: run it as LISTs fetched by the NPU (:meth:`commands`)."""
        bufs = [self.put(x) for x in inputs]
        addrs = [b.addr for b in bufs]
        probe = build(addrs, self._main.base, self._main.base)
        out = self.empty(probe.out_shape, probe.out_dtype)
        params = self._alloc(max(16, probe.param_bytes))
        program = build(addrs, out.addr, params)
        for addr, data in program.blobs:
            self._data.append((addr, data))
        self.commands(program.descriptors, out, as_list=as_list)
        return out, program

    def scratch(self):
        """``(address, bytes)``: the main memory after the job's buffers (the firmware's
        allocator range, where convolutions build their im2col matrices)."""
        base = min((self._next + 15) & ~15, self._main.end)
        return base, self._main.end - base

    def _check_scratch(self):
        free = self.scratch()[1]
        for i, layer in enumerate(self.layers):
            need = layer["spec"].get("scratch", 0)
            if need > free:
                raise UserError(f"layer {i}: the convolution's im2col buffer ({need} bytes) "
                                f"does not fit in main memory after the job's buffers ({free} "
                                "bytes free)")

    def table(self):
        """The table's bytes (header and layer records; results zero)."""
        self._check_scratch()
        words = [MAGIC, VERSION, len(self.layers), 0, *self.scratch()]
        words += [0] * (HEADER_WORDS - len(words))
        for layer in self.layers:
            f = layer["fields"]
            words += [f[name] for name in _LAYER_INPUTS] + [0] * len(_LAYER_RESULTS)
        return struct.pack(f"<{len(words)}I", *words)

    def data_segments(self):
        """``[(address, bytes)]`` for :func:`dure.sim.runner.run_elf`: table and operands."""
        return [(table_address(self.config), self.table())] + list(self._data)

    def value(self, buf):
        """The array placed with :meth:`put` for ``buf`` (None for outputs)."""
        return self._values.get(buf)

    def run(self, elf=None, *, max_cycles=200_000_000, extra_dumps=()):
        """Run the job on the simulated SoC; return a :class:`JobResult`.

        ``elf`` defaults to the built ``npu_job.elf`` (:func:`dure.sim.npu_job_build.job_elf`).
        Raises UserError when the firmware did not pass (the UART tail is in the message)."""
        from .npu_job_build import job_elf
        from .runner import run_elf

        if not self.layers:
            raise UserError("the job has no layers")
        elf = elf or job_elf(self.config)
        ram_lists = self._place_lists(elf)
        outputs = [layer["output"] for layer in self.layers]
        cpu = [b for b in (_cpu_buffer(layer) for layer in self.layers) if b is not None]
        table = (table_address(self.config), 4 * (HEADER_WORDS + LAYER_WORDS * len(self.layers)))
        dumps = [table] + [(b.addr, b.nbytes) for b in outputs + cpu] + list(extra_dumps)
        result = run_elf(elf, config=self.config, max_cycles=max_cycles,
                         data=self.data_segments() + ram_lists, dumps=dumps)
        return JobResult(self, result, table, dumps)


def _cpu_buffer(layer):
    f = layer["fields"]
    if not f["cpu_out"]:
        return None
    out = layer["output"]
    return Buffer(f["cpu_out"], out.shape, out.dtype)


class JobResult:
    """What a job run produced.

    Attributes
    ----------
    run : RunResult
        The simulator's result (status, cycles, UART, dumps).
    layers : list of dict
        Per layer: every result field of the table (``error``, ``cycles``, ``check``, ...) and
        the 64-bit counters as ``busy``, ``macs``, ``compute``, ``dma_rd``, ``dma_wr``,
        ``stall_dep``, ``stall_mem``, ``stall_out``.
    """

    def __init__(self, job, run, table, dumps):
        self.job, self.run = job, run
        if run.status != "pass":
            tail = run.uart.decode("latin-1")[-600:]
            raise UserError(f"npu_job firmware: {run.status} (failure {run.failure}) after "
                            f"{run.cycles} cycles; UART: {tail.strip()!r}")
        raw = run.dumps[table]
        words = struct.unpack(f"<{len(raw) // 4}I", raw)
        if words[0] != MAGIC or words[2] != len(job.layers) or words[3] != len(job.layers):
            raise UserError("npu_job firmware left the table inconsistent "
                            f"(magic 0x{words[0]:08x}, layers {words[2]}, done {words[3]})")
        self.layers = []
        for i in range(len(job.layers)):
            rec = words[HEADER_WORDS + i * LAYER_WORDS:HEADER_WORDS + (i + 1) * LAYER_WORDS]
            fields = dict(zip(LAYER_FIELDS, rec, strict=True))
            stats = {name: fields[name] for name in _LAYER_RESULTS}
            stats["error"] = struct.unpack("<i", struct.pack("<I", stats["error"]))[0]
            for name in _PERF:
                stats[name] = fields[f"perf_{name}_lo"] | fields[f"perf_{name}_hi"] << 32
            self.layers.append(stats)
        self._dumps = run.dumps

    def read(self, buf):
        """The array in ``buf`` after the run (it must have been read back)."""
        raw = self._dumps[(buf.addr, buf.nbytes)]
        return np.frombuffer(raw, dtype=buf.dtype).reshape(buf.shape).copy()

    def cpu_output(self, index):
        """The CPU reference path's output of layer ``index`` (None if not requested)."""
        buf = _cpu_buffer(self.job.layers[index])
        return None if buf is None else self.read(buf)

    def output(self, index):
        """The NPU's output of layer ``index``."""
        return self.read(self.job.layers[index]["output"])

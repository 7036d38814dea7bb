"""Test support for the NPU command processor: a behavioural datapath, register helpers and a
schedule checker, for Amaranth-simulator testbenches.

:class:`StandInDatapath` plays ``NpuDatapath``'s side of the control block's ports: the load
and store units accept a command when idle, the execute unit (like the real one, which pipelines
COMPUTEs) up to ``exec_capacity`` commands at once; each command works for a number of cycles
given by a latency function, then its unit pulses ``done`` (with ``*_bus_error`` when asked to),
in acceptance order per unit (a command whose time is up waits for the older ones); the units
drive the ``ev_*`` events while they work. :func:`check_schedule` checks what it saw against the
in-order semantics of the command contract: per-unit order, and that no command started before
every earlier command it conflicts with (or an earlier FENCE's predecessors) had finished; for
two COMPUTEs, which the execute unit finishes in order, only a younger one accumulating onto
the older one's ACC rows (RAW) counts.
"""

import random
from dataclasses import dataclass, field

from dure.rtl.npu.commands import (
    DESCRIPTOR_WORDS,
    ElemType,
    ErrorCode,
    LoadTarget,
    Opcode,
    OutType,
    Register,
    Status,
)
from dure.rtl.npu.descriptor import encode

from .bus import transact
from .coverage import cover

__all__ = ["UnitRun", "StandInDatapath", "reg_read", "reg_write", "submit", "set_dma_window",
           "submit_all", "wait_idle", "rows_touched",
           "conflict", "raw", "check_schedule", "error_candidates", "cover_errors",
           "refusal_examples", "UNIT_OF", "ResidentGemm", "resident_gemm", "random_operands"]

UNIT_OF = {Opcode.LOAD: "load", Opcode.COMPUTE: "exec", Opcode.STORE: "store",
           Opcode.ELTWISE: "eltwise"}
_UNITS = ("load", "exec", "store", "eltwise")


@dataclass
class UnitRun:
    """One command as the stand-in datapath ran it."""
    unit: str
    fields: dict
    accepted: int               # cycle of the valid & ready transfer
    done: int = None            # cycle of the done pulse
    bus_error: bool = False


def _fields(view, names):
    return {name: int(getattr(view, name)) for name in names}


@dataclass
class StandInDatapath:
    """Behavioural datapath. Run :meth:`run` as a background testbench.

    ``latency(unit, fields)`` gives the cycles from acceptance to the done pulse (>= 1; later if
    an older command of the unit is not done yet); ``bus_error(unit, fields)`` whether the
    command ends with a bus error; ``exec_capacity`` how many COMPUTEs the execute unit holds
    (accepted, not done), ``load_capacity`` how many LOADs the load unit holds (2 for one with
    ``npu_load_overlap``), ``eltwise_capacity`` how many ELTWISEs the element-wise unit holds
    (2 for one with the command hand-over); ``hold`` (a set of unit names) keeps those units
    from accepting anything while they are in it. ``max_in_flight`` records the most
    commands each unit held.
    """
    dut: object
    latency: object = None
    bus_error: object = None
    seed: int = 0
    exec_capacity: int = 1
    load_capacity: int = 1
    eltwise_capacity: int = 1
    hold: set = field(default_factory=set)
    runs: list = field(default_factory=list)
    max_in_flight: dict = field(default_factory=lambda: {"load": 0, "exec": 0, "store": 0,
                                                         "eltwise": 0})
    totals: dict = field(default_factory=lambda: {"macs": 0, "compute_rows": 0, "rd": 0,
                                                  "wr": 0, "stall_mem": 0, "stall_out": 0})

    def _latency(self, unit, fields, rng):
        if self.latency:
            return self.latency(unit, fields)
        rows = fields.get("rows", fields.get("m", 1))
        return 2 + rows + rng.randrange(4)

    async def run(self, ctx):
        dut, rng = self.dut, random.Random(self.seed)
        ports = {unit: getattr(dut, f"{unit}_cmd") for unit in _UNITS}
        names = {unit: [n for n, _ in port.payload.shape()] for unit, port in ports.items()}
        capacity = {"load": self.load_capacity, "exec": self.exec_capacity, "store": 1,
                    "eltwise": self.eltwise_capacity}
        busy = {unit: [] for unit in ports}             # per unit, in order: [run, cycles left]
        cycle = 0
        while True:
            for unit, port in ports.items():
                queue = busy[unit]
                ctx.set(port.ready, len(queue) < capacity[unit] and unit not in self.hold)
                done = bool(queue) and queue[0][1] <= 0
                ctx.set(getattr(dut, f"{unit}_done"), done)
                if unit in ("load", "store"):
                    ctx.set(getattr(dut, f"{unit}_bus_error"), done and queue[0][0].bus_error)
                if done:
                    queue.pop(0)[0].done = cycle
            computing = bool(busy["exec"])
            macs = busy["exec"][0][0].fields["k"] * busy["exec"][0][0].fields["n"] \
                if computing else 0
            rd = 4 if busy["load"] else 0
            wr = 2 if busy["store"] else 0
            stall_mem = int(bool(busy["load"]) and cycle % 3 == 0)
            stall_out = int(computing and cycle % 5 == 0)
            ctx.set(dut.ev_compute_row, computing)
            ctx.set(dut.ev_macs, macs)
            ctx.set(dut.ev_dma_rd_bytes, rd)
            ctx.set(dut.ev_dma_wr_bytes, wr)
            ctx.set(dut.ev_stall_mem, stall_mem)
            ctx.set(dut.ev_stall_out, stall_out)
            for key, value in (("macs", macs), ("compute_rows", int(computing)), ("rd", rd),
                               ("wr", wr), ("stall_mem", stall_mem), ("stall_out", stall_out)):
                self.totals[key] += value
            sampled = await ctx.tick().sample(
                *[p.valid for p in ports.values()], *[p.ready for p in ports.values()],
                *[p.payload for p in ports.values()])
            _, _, *rest = sampled
            n = len(ports)
            valids, readies, payloads = rest[0:n], rest[n:2 * n], rest[2 * n:3 * n]
            for index, unit in enumerate(ports):
                for entry in busy[unit]:
                    entry[1] -= 1
                if valids[index] and readies[index]:
                    fields = _fields(payloads[index], names[unit])
                    run = UnitRun(unit, fields, cycle)
                    run.bus_error = bool(self.bus_error and self.bus_error(unit, fields))
                    self.runs.append(run)
                    busy[unit].append([run, self._latency(unit, fields, rng) - 1])
                    self.max_in_flight[unit] = max(self.max_in_flight[unit], len(busy[unit]))
            cycle += 1


async def reg_read(ctx, bus, register):
    """Reads an NPU register (``Register`` member or name); returns ``(value, err)``."""
    register = Register[register] if isinstance(register, str) else register
    return await transact(ctx, bus, register.value // 4)


async def reg_write(ctx, bus, register, value, be=0xF):
    """Writes an NPU register; returns the response's err bit."""
    register = Register[register] if isinstance(register, str) else register
    return (await transact(ctx, bus, register.value // 4, we=1, wdata=value, be=be))[1]


async def submit(ctx, bus, words):
    """Stages a descriptor in CMD0..7 and rings the doorbell (waits while the queue is full)."""
    assert len(words) == DESCRIPTOR_WORDS
    for index, word in enumerate(words):
        assert not await reg_write(ctx, bus, f"CMD{index}", word)
    assert not await reg_write(ctx, bus, "DOORBELL", 0)


async def set_dma_window(ctx, bus, base, size):
    """Sets DMA_BASE and DMA_SIZE (both writes must be answered without err)."""
    assert not await reg_write(ctx, bus, "DMA_BASE", base)
    assert not await reg_write(ctx, bus, "DMA_SIZE", size)


async def submit_all(ctx, bus, commands, datapath, queue_depth):
    """Submits ``commands`` in order; the :class:`StandInDatapath` ``datapath``'s held units
    (``datapath.hold``) are released once ``queue_depth`` commands are queued (before the next
    doorbell) and after the last one."""
    for index, words in enumerate(commands):
        if index == queue_depth:
            datapath.hold.clear()
        await submit(ctx, bus, words)
    datapath.hold.clear()


async def wait_idle(ctx, bus, tries=2_000):
    """Reads STATUS until BUSY is clear and returns it; ``AssertionError`` after ``tries``
    reads."""
    for _ in range(tries):
        status, _ = await reg_read(ctx, bus, "STATUS")
        if not status & Status.BUSY.value:
            return status
    raise AssertionError("the NPU never became idle")


def rows_touched(opcode, f):
    """``(reads, writes)``: sets of ``("spad" | "acc", row)`` of a decoded command."""
    from dure.sim.npu_validate import a_rows_read, local_rows_written

    if opcode == Opcode.LOAD:
        mem = "spad" if f["target"] == LoadTarget.SPAD.value else "acc"
        return set(), {(mem, row) for row in local_rows_written(f)}
    if opcode == Opcode.COMPUTE:
        reads = {("spad", row) for row in a_rows_read(f)}
        reads |= {("spad", f["w_addr"] + r) for r in range(f["k"])}
        acc = {("acc", f["acc_addr"] + r) for r in range(f["m"])}
        if f.get("init_row"):
            reads.add(("acc", f["init_addr"]))
        return reads | (acc if f["accumulate"] else set()), acc
    if opcode == Opcode.ELTWISE:
        rows = a_rows_read(f)
        reads = {("spad", row) for row in rows}
        if f["op"]:                         # ADD: B at the same offsets from b_addr
            reads |= {("spad", f["b_addr"] + row - f["a_addr"]) for row in rows}
        if f["mac"]:                        # the weight row(s); a pair's second tap rows
            reads |= {("spad", f["b_addr"] + r) for r in range(1 + f["pair"])}
            if f["pair"]:
                reads |= {("spad", row + f["tap_step"]) for row in rows}
            if f.get("init_row"):           # every row starts from this ACC row
                reads.add(("acc", f["init_addr"]))
        acc = {("acc", f["acc_addr"] + r) for r in range(f["m"])}
        return reads | (acc if f["accumulate"] else set()), acc
    if opcode == Opcode.STORE:
        reads = {("acc", f["acc_addr"] + r) for r in range(f["rows"])}
        if f["scale"]:
            reads.add(("acc", f["scale_addr"]))
            if f.get("requant", 0):         # TFLite modes: the shift row follows
                reads.add(("acc", f["scale_addr"] + 1))
        return reads, set()
    return set(), set()


def conflict(a, b):
    """RAW, WAR or WAW between two ``(opcode, fields)`` commands."""
    ra, wa = rows_touched(*a)
    rb, wb = rows_touched(*b)
    return bool(wa & (rb | wb) or wb & ra)


def raw(older, younger):
    """The ``younger`` command reads a row the ``older`` one writes."""
    return bool(rows_touched(*older)[1] & rows_touched(*younger)[0])


def _cover_order(older, younger, older_unit, younger_unit, fence):
    """Functional coverage of one ordering the schedule check verified."""
    if fence:
        cover("npu.hazard", "FENCE/-")
        return
    if older_unit == younger_unit:
        cover("npu.hazard", f"EXEC_RAW/{older_unit}->{younger_unit}")
        return
    reads_o, writes_o = rows_touched(*older)
    reads_y, writes_y = rows_touched(*younger)
    for kind, hit in (("RAW", writes_o & reads_y), ("WAR", reads_o & writes_y),
                      ("WAW", writes_o & writes_y)):
        if hit:
            cover("npu.hazard", f"{kind}/{older_unit}->{younger_unit}")


def _store_params(fields):
    """ACC rows a STORE reads its parameters from (scale, and the shift row of a TFLite
    ``requant`` mode; without ``lane_scales``)."""
    if not fields.get("scale"):
        return set()
    per = 2 if fields.get("requant", 0) else 1     # TFLite modes: the shift row follows
    return {("acc", fields["scale_addr"] + r) for r in range(per)}


def check_schedule(commands, codes, runs, store_orders_acc=False, load_follows=False):
    """Checks the stand-in's ``runs`` against ``commands`` (list of ``(opcode, fields)`` in queue
    order) with validation results ``codes``: valid commands ran, in order per unit and finished
    in that order, each after every earlier conflicting command of another unit (a COMPUTE and
    an ELTWISE always conflict), every earlier COMPUTE it reads ACC rows of (a COMPUTE) and
    every command before an earlier FENCE had finished. ``store_orders_acc``: a STORE reading
    an earlier COMPUTE's result rows starts after that COMPUTE started, not after it finished
    (the store unit waits per row), unless the COMPUTE writes its parameter rows.
    ``load_follows``: likewise a COMPUTE or ELTWISE reading an earlier LOAD's SPAD rows starts
    after that LOAD started (its unit waits per row), unless the LOAD writes ACC rows it
    touches.
    Returns ``{seq: UnitRun}``."""
    by_unit = {unit: [r for r in runs if r.unit == unit] for unit in _UNITS}
    matched = {}
    for seq, ((opcode, fields), code) in enumerate(zip(commands, codes, strict=True)):
        if code != ErrorCode.NONE or opcode not in UNIT_OF:
            continue
        queue = by_unit[UNIT_OF[opcode]]
        assert queue, f"command {seq} ({opcode.name}) never reached its unit"
        run = queue.pop(0)
        expected = {k: v for k, v in fields.items() if k in run.fields}
        assert run.fields == expected, f"command {seq}: unit got {run.fields}, not {expected}"
        matched[seq] = run
    assert not any(by_unit.values()), f"extra commands ran: {by_unit}"
    fence_at = -1
    for seq, (opcode, fields) in enumerate(commands):
        if opcode == Opcode.FENCE and codes[seq] == ErrorCode.NONE:
            fence_at = seq
        if seq not in matched:
            continue
        run = matched[seq]
        assert run.done is not None, f"command {seq} never finished"
        for earlier in range(seq):
            if earlier not in matched:
                continue
            other = matched[earlier]
            if other.unit == run.unit:
                assert other.done < run.done, f"command {seq} finished before {earlier}"
                wait = run.unit == "exec" and raw(commands[earlier], (opcode, fields))
            elif {other.unit, run.unit} == {"exec", "eltwise"}:
                wait = True                 # structural: they share the memory ports
            elif store_orders_acc and (other.unit, run.unit) == ("exec", "store") and \
                    earlier >= fence_at:
                follows = conflict(commands[earlier], (opcode, fields))
                wait = bool(rows_touched(*commands[earlier])[1] & _store_params(fields))
                if follows and not wait:
                    assert other.accepted < run.accepted, \
                        f"STORE {seq} started at {run.accepted} before COMPUTE {earlier} " \
                        f"at {other.accepted}"
            elif load_follows and other.unit == "load" and run.unit in ("exec", "eltwise") and \
                    earlier >= fence_at:
                follows = conflict(commands[earlier], (opcode, fields))
                _, written = rows_touched(*commands[earlier])
                wait = any(mem == "acc" for mem, _ in written) and follows
                if follows and not wait:
                    assert other.accepted < run.accepted, \
                        f"{run.unit} {seq} started at {run.accepted} before LOAD {earlier} " \
                        f"at {other.accepted}"
            else:
                wait = conflict(commands[earlier], (opcode, fields))
            if earlier < fence_at or wait:
                _cover_order(commands[earlier], (opcode, fields), other.unit, run.unit,
                             earlier < fence_at and not wait)
                assert other.done < run.accepted, \
                    f"command {seq} started at {run.accepted} before {earlier} finished " \
                    f"at {other.done}"
    return matched


def cover_errors(commands, codes, matched):
    """Functional coverage of the refusals and bus errors of a checked stream: ``commands`` as
    ``(opcode, fields)`` (``opcode`` None when not decodable), ``codes``, ``matched`` as for
    :func:`error_candidates`."""
    for (opcode, _), code in zip(commands, codes, strict=True):
        code = ErrorCode(code)
        if code == ErrorCode.BAD_OPCODE or opcode is None:
            cover("npu.error", f"{code.name}/-")
        elif code != ErrorCode.NONE:
            cover("npu.error", f"{code.name}/{Opcode(opcode).name}")
    for run in matched.values():
        if run.bus_error and run.unit != "exec":
            cover("npu.error", f"BUS_ERROR/{run.unit}")


def refusal_examples(bases, config, dma_base, dma_size, *, seed=0, tries=4000):
    """One descriptor per reachable ``(ErrorCode, opcode)`` refusal, found by mutating the
    valid descriptors ``bases`` (``{Opcode: words}``) and classifying each mutant with the
    command model's validator (:func:`dure.sim.npu_validate.validate`): a field set to zero,
    to all ones or to a random value, or one random bit of any word flipped. Returns
    ``{(code, opcode): words}`` keyed by the mutant's own opcode (a flipped opcode bit can
    turn one command into another; None for a bad opcode)."""
    from dure.rtl.npu.descriptor import FIELDS
    from dure.sim.npu_validate import validate

    rng = random.Random(seed)
    found = {}
    for opcode, base in bases.items():
        fields = list(FIELDS[opcode].values())
        for _ in range(tries):
            words = list(base)
            for _ in range(rng.randint(1, 2)):
                kind = rng.random()
                if kind < 0.25:
                    words[rng.randrange(8)] ^= 1 << rng.randrange(32)
                else:
                    f = rng.choice(fields)
                    mask = (1 << f.width) - 1
                    value = 0 if kind < 0.5 else mask if kind < 0.7 else rng.getrandbits(f.width)
                    words[f.word] = (words[f.word] & ~(mask << f.lsb)) | (value << f.lsb)
            code = validate(words, config, dma_base, dma_size)
            if code == ErrorCode.NONE:
                continue
            key = (code, None if code == ErrorCode.BAD_OPCODE else Opcode(words[0] & 0xF))
            found.setdefault(key, words)
    return found


def error_candidates(codes, matched):
    """The values the ERROR register may hold after a stream, by the contract ("the first
    refused or failed command since the error bit was last cleared", never cleared here).

    ``codes`` are the validation results in queue order, ``matched`` the runs by sequence
    number (:func:`check_schedule`). Refusals happen in queue order and before any later
    command starts, so only the first refused command can be first; a bus error is recorded
    when its unit reports done, so among bus errors the earliest done cycle wins (any of a
    tie). A refusal of command j comes before a bus error of any command i > j, which starts
    after j was refused; when a bus error of an older command competes with the first refusal,
    both orders are possible and both values are returned. Returns a set of ``(seq << 8) |
    code`` values; ``{0}`` when nothing was refused or failed."""
    refused = [seq for seq, code in enumerate(codes) if code != ErrorCode.NONE]
    failed = sorted((run.done, seq) for seq, run in matched.items()
                    if run.bus_error and run.unit != "exec")
    if not refused and not failed:
        return {0}
    values = set()
    if refused:
        first = refused[0]
        values.add((first << 8) | ErrorCode(codes[first]).value)
    if failed:
        earliest = failed[0][0]
        bus = {(seq << 8) | ErrorCode.BUS_ERROR.value for done, seq in failed if done == earliest}
        if not refused or min(seq for _, seq in failed) < refused[0]:
            values |= bus
    return values


@dataclass
class ResidentGemm:
    """Descriptors of :func:`resident_gemm`: ``loads`` (every A tile, then every W tile),
    ``computes`` (in the tiling order), ``stores`` (one per N tile), ``stream`` (the LOADs and
    COMPUTEs interleaved in the tiling order, each LOAD just before the first COMPUTE that
    needs it); the memory ``image`` and the byte offset ``out_at`` of the int32 / fp32 output
    (M rows of N words)."""
    loads: list
    computes: list
    stores: list
    stream: list
    image: bytearray
    out_at: int


def resident_gemm(config, a, b, *, base, k_inner=False):
    """An M x K x N GEMM (``a`` / ``b`` int8 or float16) with all of A and W resident in SPAD
    (A tile t at rows ``t * M``, then the W tiles) and each N tile's output in its own ACC rows
    (``u * M``); raw int32 / fp32 output. Tiling order: K tiles outer and N tiles inner
    (consecutive COMPUTEs write different ACC rows, so they pipeline through the array; COMPUTE
    (t, u) accumulates onto (t - 1, u), ``N / C`` commands earlier), or with ``k_inner`` the
    other way round (every COMPUTE but an N tile's first accumulates onto the one just before
    it: a RAW hazard through ACC, so they run one at a time)."""
    rows, cols = config.npu_rows, config.npu_cols
    m, k = a.shape
    n = b.shape[1]
    fp = a.dtype.itemsize == 2
    eb, elem, prec = (2, ElemType.FP16, 1) if fp else (1, ElemType.INT8, 0)
    kt, nt = -(-k // rows), -(-n // cols)
    w0 = kt * m
    if w0 + kt * nt * rows > config.npu_spad_rows or nt * m > config.npu_acc_rows:
        raise ValueError(f"a {m}x{k}x{n} GEMM does not fit the SPAD / ACC")
    b_at = m * k * eb
    out_at = -(-(b_at + k * n * eb) // 4) * 4
    image = bytearray(out_at + 4 * m * n)
    image[:b_at] = a.tobytes()
    image[b_at:b_at + k * n * eb] = b.tobytes()
    a_loads = [encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                      dram_addr=base + t * rows * eb, dram_stride=k * eb, rows=m,
                      cols=min(rows, k - t * rows), local_addr=t * m) for t in range(kt)]
    w_loads, computes = {}, {}
    for t in range(kt):
        kk = min(rows, k - t * rows)
        for u in range(nt):
            nn = min(cols, n - u * cols)
            w_row = w0 + (t * nt + u) * rows
            w_loads[t, u] = encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem,
                                   dram_addr=base + b_at + (t * rows * n + u * cols) * eb,
                                   dram_stride=n * eb, rows=kk, cols=nn, local_addr=w_row)
            computes[t, u] = encode(Opcode.COMPUTE, precision=prec, accumulate=int(t > 0),
                                    a_addr=t * m, w_addr=w_row, acc_addr=u * m, m=m, k=kk,
                                    n=nn)
    order = sorted(computes, key=lambda tu: (tu[1], tu[0]) if k_inner else tu)
    stream, have_a = [], set()
    for t, u in order:
        if t not in have_a:
            stream.append(a_loads[t])
            have_a.add(t)
        stream += [w_loads[t, u], computes[t, u]]
    stores = [encode(Opcode.STORE, out=OutType.FP32 if fp else OutType.INT32, acc_type=prec,
                     dram_addr=base + out_at + 4 * u * cols, dram_stride=4 * n, rows=m,
                     cols=min(cols, n - u * cols), acc_addr=u * m) for u in range(nt)]
    return ResidentGemm(a_loads + list(w_loads.values()), [computes[tu] for tu in order],
                        stores, stream, image, out_at)


def random_operands(kind, m, k, n, seed):
    """Random GEMM operands for :func:`resident_gemm` and their golden product: ``kind``
    ``"int8"`` (uniform int8 A (m x k) and W (k x n), the int32 product) or ``"fp16"``
    (standard normal values rounded to float16, the fp32 product of
    :func:`dure.sim.golden.gemm_fp16`); the product as uint32 bit patterns, from
    ``numpy.random.default_rng(seed)``. Returns ``(a, b, expect)``."""
    import numpy as np
    from dure.sim import golden

    rng = np.random.default_rng(seed)
    if kind == "int8":
        a = rng.integers(-128, 128, (m, k), dtype=np.int8)
        b = rng.integers(-128, 128, (k, n), dtype=np.int8)
        return a, b, golden.gemm_int8(a, b).view(np.uint32)
    if kind != "fp16":
        raise ValueError(f"kind must be 'int8' or 'fp16', not {kind!r}")
    a = rng.standard_normal((m, k)).astype(np.float16)
    b = rng.standard_normal((k, n)).astype(np.float16)
    return a, b, golden.gemm_fp16(a, b).view(np.uint32)

"""The walk engine's descriptor stream: :func:`walk_descriptors` turns a :class:`WalkLayer`
and its :class:`WalkPlan` (:func:`dure.sim.walk_plan.plan_walk`) into descriptor words, in the
layout of :mod:`dure.sim.walk_layer`: the units' data commands (:mod:`dure.sim.walk_cmds`: the
LOADs, FILLs and STOREs) placed between their COMPUTEs (:mod:`dure.sim.walk_computes`). C port:
``firmware/npu/npu_walk_cmds.c`` (the LOADs and STOREs), ``npu_walk_stream.c`` (the side
commands into their slots) and ``npu_walk_emit.c`` (the COMPUTEs and the loop over units).

Order (what makes FP16 exact): per unit, taps outermost (ky, then kx), then input chunks, then
the group's output chunks, then sub-blocks. Per ACC row this is the sequential order of
:func:`dure.sim.golden_tflite_fp16.conv2d_fp16` (k over (kh, kw, cin)); consecutive COMPUTEs
write other ACC rows (other chunk or sub-block), so the array seldom waits for its own result.
The first unit of an INT8 convolution (not depthwise, not ``taps`` mode, several input
chunks) takes its input chunks outermost instead (then taps, output chunks, sub-blocks;
INT8 sums are exact in any order), with its weights in one LOAD per (input chunk, tap): its
first COMPUTEs then need one input chunk's image rows and weights, not every chunk's
(docs/layer_fixed_cost.md, session 12).

The next group's weights of a 1x1 layer (``double`` and ``single``) come in LOADs of
PIECE_ROWS rows (input channels), piece by piece across the group's chunks: in ``single``
each piece then follows the COMPUTEs that free its rows instead of the whole matrix waiting
for the unit's last COMPUTE, and in both no long LOAD holds the in-order front.

Stream order: per unit its COMPUTEs with the *side* commands spread evenly between them: the
previous unit's STOREs, then the next unit's LOADs (tile, weights, and ACC init on the
element-wise unit; COMPUTEs start from the bias rows loaded in the prologue,
:attr:`~dure.sim.walk_layer.WalkLayer.init_rows`: with an INT8 first unit taking its input
chunks outermost, only its own output chunks' rows there, the others being its first side
commands, so they do not hold the LOAD unit ahead of its first COMPUTE); a side command
that writes SPAD rows a COMPUTE of this unit reads is placed after that COMPUTE. The first
unit's own LOADs go just ahead (JIT_LEAD COMPUTEs per element byte on the array, JIT_LEAD on
the element-wise unit) of the first COMPUTE that needs them, those of its first COMPUTE before
it (its ACC rows and weights first, then its padding FILLs and image rows: a COMPUTE reads its
weight rows first and, with ``config.npu_load_follow``, follows its LOADs row by row); its
weights come one LOAD per tap and the image rows of its first wave one LOAD per tap row (so
the in-order LOAD unit takes them in the order the COMPUTEs need them); its side commands
start only at the slot of its last tile LOAD (the LOAD unit takes LOADs in order: the next
group's weights must not hold up the first unit's image rows). The next group's weights
of a layer with taps (``double`` and ``single``) come per tap. The STOREs' parameter rows
(``WalkLayer.const_rows``) are LOADed first among the second unit's side commands, just ahead
of the first STOREs (with one unit, right after the first COMPUTE); the last unit's STOREs go
per sub-block right after the COMPUTE that finishes it. The NPU's front end takes commands in
order with one waiting slot per unit,
so this keeps LOADs and STOREs from holding up the COMPUTEs behind them.
"""

from dure.rtl.npu.commands import ElemType, LoadTarget, Opcode, Precision
from dure.rtl.npu.descriptor import decode, encode

from dure.gemm_cost import LATENCY, WALK_JIT_LEAD

from .walk_cmds import PIECE_ROWS, Cmd, a_rows_meet
from .walk_computes import WalkComputes
from .walk_plan import plan_walk
from .walk_waves import chunk_waves, unit_waves

__all__ = ["walk_descriptors", "PIECE_ROWS", "JIT_LEAD"]

#: The first unit's LOADs go this many COMPUTEs ahead of the first one that needs them.
JIT_LEAD = WALK_JIT_LEAD


def walk_descriptors(config, layer, plan=None, spread=False, listed=False):
    """Descriptor words of ``layer`` (a list of 8-word lists), planned by :func:`plan_walk`
    (or ``plan``). See the module docstring for the stream. ``spread``: the border FILLs are
    per channel chunk, and the prologue tile LOADs and FILLs the first unit does not read
    (other input chunks of a diagonal layer) go evenly
    between its COMPUTEs instead of in one run after them (a run of LOADs holds the in-order
    front while the array drains). ``listed``: the stream runs as one LIST (the NPU fetches
    it, no push pacing) rather than pushed by the core: an INT8 head may be ordered for that
    feed (below; C: ``walk_layer.listed``)."""
    plan = plan or plan_walk(config, layer)
    s = WalkComputes(config, layer, plan, spread)
    g, eb, units = s.g, s.eb, s.units
    c_outer, waved, cc, unit_tiles = s.c_outer, s.waved, s.cc, s.unit_tiles
    init_row0, elem, tile0 = s.init_row0, s.elem, s.tile0

    # Prologue: starting values and shared weights (small), then the first unit's own LOADs, each
    # just ahead of the first COMPUTE that needs it (JIT below).
    words = []
    # the STOREs' parameter rows: read by no COMPUTE, so LOADed just ahead of the first
    # STOREs (first among the second unit's side commands; with one unit right after the
    # first COMPUTE), not ahead of the first COMPUTE's own LOADs
    const = Cmd(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                       dram_addr=layer.const_addr, dram_stride=layer.const_stride,
                       rows=layer.const_rows, cols=layer.n_chunk,
                       local_addr=plan.const_row)) if layer.const_rows else None
    # the starting values' rows (WalkLayer.init_rows): whole chunks in one LOAD, a partial
    # last chunk in its own
    full = layer.cout // layer.n_chunk if layer.init_rows else 0

    def bias_loads(j_lo, j_hi):
        """The LOADs of output chunks [j_lo, j_hi)'s starting-value rows."""
        out = []
        for j0, j1, cols in ((j_lo, min(j_hi, full), layer.n_chunk),
                             (max(j_lo, full), min(j_hi, layer.init_rows),
                              layer.cout % layer.n_chunk)):
            if j1 > j0:
                out.append(Cmd(encode(Opcode.LOAD, target=LoadTarget.ACC, elem=ElemType.WORD32,
                                      dram_addr=layer.acc_init + 4 * j0 * layer.n_chunk,
                                      dram_stride=4 * layer.n_chunk, rows=j1 - j0, cols=cols,
                                      local_addr=init_row0 + j0),
                               acc_write=(init_row0 + j0, init_row0 + j1)))
        return out

    # With the first unit's input chunks outermost (INT8), only its own output chunks' rows go
    # first; the others (two rows or more: 64 B, ~a push of port cycles) are the first of its
    # side commands (ResNet-8 stage 3: 256 B ahead of the first COMPUTE's image rows -> 32 B,
    # npu fixed 383 -> 349). Likewise INT8 depthwise on the element-wise MAC, whose first MAC
    # starts from its chunk's row (DS-CNN's: npu fixed 665 -> 599; FP16 3,733 -> 4,002: not
    # there).
    g0 = units[0][3] + units[0][4] + (1 if s.joint else 0)   # joint: the second unit's too
    dw_int8 = layer.eltwise_mac and layer.precision == Precision.INT8
    g0 = g0 if (c_outer or dw_int8) and layer.init_rows - g0 >= 2 else layer.init_rows
    # With the pair LOAD (taps 0 and 1 of input chunk 0 in one, WalkLayer.pair_weights) the
    # first COMPUTE's weights go ahead of its starting-value rows, which then go right after
    # them, ahead of its FILLs and image rows (ResNet-8 stages 1 / 2 / 3 INT8 pushed: npu
    # fixed 285 / 313 / 341 -> 282 / 301 / 329, session 18; a 1x1 layer without the pair
    # LOAD: DS-CNN's pointwise 338 -> 341, so not there)
    first_bias = bias_loads(0, g0)
    # with the first pair copy (WalkComputes.first_pair_applies) only the first two chunks'
    # rows go ahead of it, the group's others right after the first COMPUTE (its first use
    # taken as 1 below), so the first COMPUTE waits for 64 B of them, not 128 (DS-CNN's
    # pointwise, session 22)
    mid_bias = []
    if layer.first_pair is not None:
        mid_bias = bias_loads(units[0][3] + 2, g0)
        first_bias = bias_loads(0, units[0][3] + 2)
    if not layer.first_copied:                 # also with the joint copy (joint_weights)
        words += [c.words for c in first_bias]
        first_bias = []
    rest_bias = bias_loads(g0, layer.init_rows)
    if layer.shared_weight is not None and layer.shared_weight[1]:
        addr, rows = layer.shared_weight
        words.append(encode(Opcode.LOAD, target=LoadTarget.SPAD, elem=elem, dram_addr=addr,
                            dram_stride=layer.n_chunk * eb, rows=rows, cols=layer.n_chunk,
                            local_addr=0))

    # the tile buffer of each unit: by block, or by unit for a diagonal layer
    tile_of = []
    bi = -1
    for i, u in enumerate(units):
        if i == 0 or unit_tiles or u[:2] != units[i - 1][:2]:
            bi += 1
        tile_of.append(bi)
    first_unit = units[0]
    head = unit_waves(config, layer, first_unit[2], first_unit[4], waved,
                      waved and len(units) == 1)
    # a 1x1 first unit whose input chunk 0 goes in parts (WalkComputes.first_halves): its
    # image rows in one LOAD per part, so the other chunks' weights are not queued behind
    # the second part
    halves = s.first_halves(s.pieces(first_unit, True, len(units) == 1)[0],
                            chunk_waves(config, layer, first_unit[2], first_unit[4],
                                        waved and len(units) == 1)[0][1]) if c_outer else None
    if halves:
        head = [part[0] for part in halves]
    # Weight-stationary: a COMPUTE reads its weight rows before its A rows, so of the LOADs
    # the first COMPUTE needs (kept in this order) its ACC rows (read or written: it waits for
    # those LOADs to be done) and weights come first, then the padding FILLs and image rows it
    # follows row by row (config.npu_load_follow).
    pre = s.acc_init(0, first_unit)
    # INT8 depthwise on the element-wise MAC: each later unit's weights (resident, a slot of
    # their own) come first among the side commands of the unit before it, not all in the
    # first unit (its port time goes to its tile and the next one's). Measured on the 8x8
    # ``sim`` SoC, npu fixed INT8 pushed: DS-CNN's 25x5x64 437 -> 396 (358 with
    # WalkComputes.dw_first_tap), MobileNetV1-0.25's 6x6x128 958 -> 703 (in the mobilenet
    # model, as LISTs, +24 cycles on each of its five 6x6x128 layers); after the STOREs
    # instead 703 -> 671 there but +36 in the model, so first; FP16 3,587 -> 3,635, so INT8
    # only; units of LATENCY pixels or more only (in the model the 6x6x128 layers' 36-pixel
    # units lost) (session 21, branch kwsfixed). C weights_per_unit (npu_walk_cmds.c).
    per_unit = dw_int8 and plan.wmode == "resident" and first_unit[2] * g.ow >= LATENCY

    def unit_weights(unit, done_j=0):
        return [c for j in range(max(done_j, unit[3]), unit[3] + unit[4])
                for c in s.weight_loads(0, (0, 0, 0, j, 1), "jit", False)]

    if per_unit:
        pre += unit_weights(first_unit)
    elif plan.wmode == "resident":
        pre += [c for j in range(layer.out_chunks)
                for c in s.weight_loads(0, (0, 0, 0, j, 1), "jit",
                                        c_outer and j < first_unit[3] + first_unit[4])]
    elif plan.wmode in ("double", "single"):
        pre += s.weight_loads(0, first_unit, "jit", c_outer)
        if s.fp16_joint:
            # the second unit's chunk's weights: its taps' first use is in the first wave
            pre += s.weight_loads(1, units[1], "jit")
        if s.joint:
            pre += s.joint_weight_loads()
    elif plan.wmode == "taps":
        pre += s.tap_loads(first_unit, range(min(2, g.kh * g.kw)))
    pre += mid_bias + first_bias + s.side_fills() + s.tile_loads(first_unit, 0, head)

    def is_tile(cmd):
        return cmd.spad_write is not None and cmd.spad_write[0] >= tile0

    # with row-exact hazards (config.npu_row_hazard) a LOAD's first use is the first COMPUTE
    # whose A rows it may write by column window too (walk_cmds.a_rows_meet), as the
    # dispatcher tests them: a side FILL then follows a first COMPUTE of image columns
    exact = getattr(config, "npu_row_hazard", False)

    def reads(cmd, cp):
        w0, w1 = cmd.spad_write
        hits = [r0 < w1 and w0 < r1 for r0, r1 in cp.spad_reads]
        if not any(hits):
            return False
        return not exact or any(hits[1:]) or a_rows_meet(cmd.words, cp.words)

    def first_use(cmd, comp):
        for ci, cp in enumerate(comp):
            if cmd.spad_write is not None and reads(cmd, cp):
                return ci
            if cmd.acc_write is not None and cp.acc_write[0] < cmd.acc_write[1] and \
                    cmd.acc_write[0] < cp.acc_write[1]:
                return ci
        return len(comp)

    # The first unit's LOADs go this many COMPUTEs ahead of their first use: JIT_LEAD per
    # element byte on the array (an FP16 row moves twice the bytes), JIT_LEAD on the
    # element-wise unit.
    lead = JIT_LEAD if layer.eltwise_mac or layer.eltwise_max else JIT_LEAD * eb
    for i, u in enumerate(units):
        comp = s.computes(i, u, tile_of[i], first=i == 0, last=i + 1 == len(units))
        side = s.stores(i - 1, units[i - 1]) if i > 0 else list(rest_bias)
        if const is not None and i == 1:
            side = [const] + side
        if i + 1 < len(units):
            nxt = units[i + 1]
            if per_unit:
                # the chunks no unit up to this one has (units take chunks in rising order)
                done_j = max(v[3] + v[4] for v in units[:i + 1])
                side = unit_weights(nxt, done_j) + side
            if plan.wmode in ("double", "single") and not (i == 0 and s.fp16_joint):
                # per tap: no long LOAD ahead of the first unit's own (and, in ``single``,
                # each tap follows the COMPUTEs that free its rows)
                side += s.weight_loads(i + 1, nxt, True)
            elif plan.wmode == "taps":
                side += s.tap_loads(nxt, range(min(2, g.kh * g.kw)))
            if tile_of[i + 1] != tile_of[i]:
                side += s.tile_loads(nxt, tile_of[i + 1])
            side += s.acc_init(i + 1, nxt)
        # The first unit's own LOADs (i == 0): those its first COMPUTE needs go before it,
        # the others ``lead`` COMPUTEs ahead of their first use, in order of use.
        uses = sorted(((0 if any(cmd is b for b in first_bias) else
                        1 if any(cmd is b for b in mid_bias) else first_use(cmd, comp), n,
                        cmd) for n, cmd in enumerate(pre)),
                      key=lambda t: t[:2]) if i == 0 else []
        # No side command goes before the last of its tile LOADs from main memory (the LOAD
        # unit takes LOADs in order: the next unit's weights there held up the first unit's
        # image rows; its FILLs move no bytes and do not count).
        floor = max([max(0, use - JIT_LEAD) for use, _, cmd in uses
                     if 0 < use < len(comp) and is_tile(cmd)
                     and not decode(cmd.words)[1]["fill"]], default=0)
        if i == 0 and c_outer:
            # input chunks outermost: its own tile LOADs come chunk by chunk through the
            # unit, so the side commands (the next group's weights) start no later than the
            # end of the first input chunk's COMPUTEs (ResNet-8 stage 3 INT8: npu fixed
            # 728 -> 390; at the slot of the last tile LOAD they all fell into the last
            # chunk's COMPUTEs)
            # (with the joint first wave, input chunk 0 is that wave: 4 COMPUTEs a tap)
            floor = min(floor, len(comp) // cc if not s.joint else
                        3 * len(s.joint_set) + g.kh * g.kw)
        # Side command d goes after COMPUTE floor + (d * (nc - floor) / ns), but not before
        # the COMPUTE after the last one of this unit that reads the SPAD rows it writes (so
        # it does not hold the LOAD unit's slot waiting for that COMPUTE).
        slots = []                               # (after COMPUTE index, order, cmd)
        last = 0
        for d, cmd in enumerate(side):
            q = floor + d * (len(comp) - floor) // len(side)
            if cmd.spad_write is not None:
                w0, w1 = cmd.spad_write
                for ci, cp in enumerate(comp):
                    if any(r0 < w1 and w0 < r1 for r0, r1 in cp.spad_reads):
                        q = max(q, ci + 1)
            last = max(q, last)
            slots.append((last, 1, cmd))
        if const is not None and i == 0 and len(units) == 1:
            slots.append((0, 0, const))
        if i == 0:
            # with the pair LOAD and row-exact hazards the first COMPUTE's FILLs (its top
            # padding) go first, then its weights and starting-value rows, then its image
            # (session 19: ResNet-8 INT8 npu fixed pushed 282 / 299 / 319 -> 280 / 292 / 320,
            # as one LIST 292 / 309 / 329 -> 290 / 300 / 322)
            head = [cmd for use, _, cmd in uses if use == 0]
            if exact and layer.first_copied:
                # as one LIST (INT8) the starting-value rows go ahead of the weights: FILL,
                # bias, weights, image (rn8_s2 INT8 npu fixed as one LIST 300 -> 297; pushed
                # it is 292 -> 298, so pushed keeps FILL, weights, bias: session 22, kwspw3)
                bias_first = listed and layer.precision == Precision.INT8
                head.sort(key=lambda cmd: 0 if decode(cmd.words)[1]["fill"] else
                          1 if bias_first and any(cmd is b for b in first_bias) else 2)
            words += [cmd.words for cmd in head]
            late = [cmd for use, _, cmd in uses if use == len(comp) and is_tile(cmd)] \
                if spread else []
            # with tap 1 first (WalkComputes.first_tap_swap) the first two COMPUTEs (taps 1
            # and 0, one pair LOAD of weights) go back to back with only the side FILL the
            # second reads between them: the LOADs of later COMPUTEs go after the second
            # (rn8_s2 INT8 npu fixed 315 -> 300)
            low = 1 if c_outer and s.first_tap_swap() else 0
            early = s.wave_ahead_slots(uses, len(comp), lead)
            slots += [(early.get(id(cmd), max(low if use > 1 else 0, use - lead)), 0, cmd)
                      for use, n, cmd in uses if use > 0 and not any(cmd is c for c in late)]
            slots += [((k + 1) * len(comp) // (len(late) + 1), 0, cmd)
                      for k, cmd in enumerate(late)]
        if plan.wmode == "taps":
            # This unit's taps 2.. into the buffer of tap t - 2: spread between the COMPUTE
            # after the last one reading that buffer and the first one of tap t.
            for t in range(2, g.kh * g.kw):
                loads = s.tap_loads(u, [t])
                use = t * len(comp) // (g.kh * g.kw)      # the first COMPUTE of tap t
                free = max(ci for ci, cp in enumerate(comp[:use])
                           if any(r0 < loads[0].spad_write[1] and
                                  loads[0].spad_write[0] < r1 for r0, r1 in cp.spad_reads))
                gap = max(1, (use - free - 2) // (len(loads) + 1))
                for k, cmd in enumerate(loads):
                    slots.append((min(use - 1, free + 1 + (k + 1) * gap), 0, cmd))
        if i + 1 == len(units):
            # The last unit's STOREs, per sub-block, right after the COMPUTE that finishes it.
            for cmd in s.stores(i, u, split=True):
                writer = max(ci for ci, cp in enumerate(comp)
                             if cp.acc_write[0] < cmd.acc_read[1] and
                             cmd.acc_read[0] < cp.acc_write[1])
                slots.append((writer, 2, cmd))
        slots.sort(key=lambda t: t[:2])
        done = 0
        for ci, cp in enumerate(comp):
            words.append(cp.words)
            while done < len(slots) and slots[done][0] <= ci:
                words.append(slots[done][2].words)
                done += 1
        words += [c[2].words for c in slots[done:]]
    return words

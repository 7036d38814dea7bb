"""The walk engine's COMPUTEs (and the element-wise unit's ELTWISE MACs / MAXes) of a walked
layer's units, in the order that makes FP16 exact: per unit, taps outermost (ky, then kx),
then input chunks, then the group's output chunks, then sub-blocks; the first unit of an INT8
convolution (:attr:`WalkCmds.c_outer <dure.sim.walk_cmds.WalkCmds>`) takes its input chunks
outermost instead, in a 1x1 layer its input chunk 0 in parts of its rows (a quarter, a third
and the rest, :meth:`WalkComputes.first_halves`), and with the joint first wave
(:meth:`WalkComputes.joint_computes`) it first computes input chunk 0 of the second unit's
output chunk too; an FP16 first unit's first wave also computes the second unit's chunk over
its rows (:meth:`~dure.sim.walk_cmds.WalkCmds.fp16_joint_rows`); the last chunk range (one
chunk) of a 1x1 last unit goes in two waves of rows
(:meth:`~dure.sim.walk_cmds.WalkCmds.last_halves`), interleaved where the second is shorter
than LATENCY pixels (:meth:`WalkComputes.tail_interleave`). C port:
``firmware/npu/npu_walk_emit.c``.
"""

from dure.rtl.npu.commands import EltwiseOp, Opcode, Precision
from dure.rtl.npu.descriptor import decode, encode

from dure.gemm_cost import (
    BYTES_PER_CYCLE,
    LATENCY,
    RELOAD,
    WALK_FP16_EVEN_WAVE_CHUNKS,
    WALK_JIT_LEAD,
    WALK_SPLIT_MIN_CHUNKS,
    WALK_TAIL_PORT_BYTES,
)

from .walk_cmds import Cmd, WalkCmds
from .walk_waves import chunk_waves, dw_lead_tap

__all__ = ["WalkComputes"]


class WalkComputes(WalkCmds):
    """:class:`~dure.sim.walk_cmds.WalkCmds` plus the units' COMPUTEs."""

    def computes(self, u_index, unit, tile_index, first=False, last=False):
        """The COMPUTEs of unit ``u_index`` (``first`` / ``last``: the layer's first / last
        unit, in waves), reading tile buffer ``tile_index``."""
        _, _, rows, j0, gcount = unit
        base = self.tile_base(tile_index) - self.chunk0(unit) * self.th_full * self.g.wp
        out = []
        ranges = chunk_waves(self.config, self.layer, rows, gcount, last and self.waved)
        split = self.last_halves(unit) if last else None
        # with the joint first wave (joint_first) input chunk 0 of the first two units' chunks
        # is the first unit's first part
        skip0 = bool(self.joint) and u_index in (0, 1)
        if first and self.joint:
            out += self.joint_computes(base)
        jh = self.fp16_joint
        for c0, cn in ranges:
            waves = split if split and (c0, cn) == ranges[-1] else \
                self.pieces(unit, first, last)
            if jh and u_index == 1:
                # the first unit computed rows [0, jh) of this chunk (fp16_joint_rows; this
                # unit is neither the first nor the last: one wave)
                waves = [[(jh + s0, min(self.plan.sbh, rows - jh - s0))
                          for s0 in range(0, rows - jh, self.plan.sbh)]]
            if jh and u_index == 0:
                # its first wave, (tap, input chunk) by (tap, input chunk), its own chunk's
                # COMPUTE then the second unit's (one sub-block each)
                a = self.wave_computes(0, unit, base, waves[0], range(c0, c0 + cn))
                b = self.wave_computes(1, self.units[1], base, waves[0], range(0, 1))
                out += [x for pair in zip(a, b, strict=True) for x in pair]
                waves = waves[1:]
            parts = [self.wave_computes(u_index, unit, base, wave, range(c0, c0 + cn),
                                        first and self.c_outer, skip0) for wave in waves]
            if split and (c0, cn) == ranges[-1]:
                parts = [self.tail_interleave(unit, split, *parts)]
            for part in parts:
                out += part
        return out

    def wave_ahead_slots(self, uses, ncomp, lead):
        """``{id(cmd): slot}`` for the first unit's image LOADs (from main memory, not FILLs)
        of an FP16 convolution on the array whose first use (``uses``: ``(use, n, cmd)``, n
        the LOAD's place among the unit's own LOADs) lies in a later wave than its first.
        FP16 keeps its taps outermost, so a wave's first COMPUTEs (tap 0 of every input
        chunk) read every chunk's new image rows: ResNet-8 stage 2's 4 KB (4 input chunks)
        took 1,024 port cycles against the 256 rows ``lead`` COMPUTEs cover. With
        WALK_FP16_EVEN_WAVE_CHUNKS input chunks or more each goes ahead of its use by the
        COMPUTEs whose rows (a COMPUTE of that wave's) cover, at BYTES_PER_CYCLE, the bytes
        of its wave's image LOADs up to it (in their order n), rounded up, plus
        WALK_JIT_LEAD; with fewer, those of the third wave and later go halfway through the
        wave before; either or ``lead`` ahead, whichever is earlier. Measured on the 8x8
        ``sim`` SoC, npu fixed FP16 pushed rn8_s1 / rn8_s2 (session 22, branch fp16first):
        655 / 1,229 (736 / 1,676 without; halfway for all 655 / 1,474, and then the second
        wave's by the byte rule with 0 / 1 / 2 / 4 COMPUTEs for WALK_JIT_LEAD 1,350 / 1,286 /
        1,261 / 1,261 on rn8_s2, 655 on rn8_s1 each); the byte rule on every layer cost
        MobileNetV1-0.25's conv0 (one input chunk) 480 cycles and ResNet-8's s1a (two) 596
        against halfway, in the models. C ``wave_ahead_slot`` (npu_walk_stream.c)."""
        layer, g = self.layer, self.g
        if layer.precision != Precision.FP16 or layer.eltwise_mac or layer.eltwise_max or \
                layer.diagonal:
            return {}
        unit = self.units[0]
        per = g.kh * g.kw * self.cc * unit[4]
        waves = self.pieces(unit, True, len(self.units) == 1)
        starts, at = [], 0
        for wi, wave in enumerate(waves):
            starts.append(at)
            at += per * len(wave) * (2 if wi == 0 and self.fp16_joint else 1)
        starts.append(at)
        out, cum = {}, [0] * len(waves)
        for use, _, cmd in sorted(uses, key=lambda t: t[1]):
            if not 0 < use < ncomp or cmd.spad_write is None or \
                    cmd.spad_write[0] < self.tile0 or decode(cmd.words)[1]["fill"]:
                continue
            w = max(k for k, st in enumerate(starts) if st <= use)
            if w < 1:
                continue
            if self.cc < WALK_FP16_EVEN_WAVE_CHUNKS:
                # fewer input chunks: only the third wave's and later, halfway through the
                # wave before
                if w >= 2:
                    out[id(cmd)] = min(use - lead,
                                       starts[w - 1] + (starts[w] - starts[w - 1]) // 2)
                continue
            f = decode(cmd.words)[1]
            cum[w] += f["rows"] * f["cols"] * self.eb
            port = BYTES_PER_CYCLE * waves[w][0][1] * g.ow
            out[id(cmd)] = max(0, min(use - lead, use - WALK_JIT_LEAD - -(-cum[w] // port)))
        return out

    def tail_interleave(self, unit, split, a, b):
        """The two waves' COMPUTEs of a 1x1 last unit's last chunk (:meth:`~dure.sim.
        walk_cmds.WalkCmds.last_halves`; ``a`` / ``b``: the first / second wave's, one per
        input chunk) interleaved: ``a[0], b[0], a[1], b[1], ...`` up to the last ``k`` of
        each, then ``a``'s last ``k``, then ``b``'s. Each wave's chain (one ACC row's
        COMPUTEs, input chunk after input chunk) then has a link of the other wave between
        its COMPUTEs: the second wave alone (60 pixels on DS-CNN's 25x5 pointwise) has its
        links closer than LATENCY rows (4 stall cycles each; only there). ``k``: the fewest
        of ``b``'s COMPUTEs whose rows cover the port time of the first wave's STORE (its bytes at
        WALK_TAIL_PORT_BYTES a cycle; dure.gemm_cost), so that STORE is done under them and
        only the second wave's is stored after the last row. Per ACC row the order is kept
        (FP16 exact). C ``tail_interleave`` (npu_walk_emit.c)."""
        layer, g = self.layer, self.g
        a_px, b_px = split[0][0][1] * g.ow, split[1][0][1] * g.ow
        if len(a) != len(b) or not a or b_px >= LATENCY:
            # links of LATENCY rows or more do not stall: MobileNetV1-0.25's 12x12x64 -> 64
            # (waves of 72 pixels) took 32 cycles more interleaved, INT8 and FP16
            return a + b
        j = unit[3] + unit[4] - 1
        store = a_px * layer.chunk_cols(j) * layer.out_bytes
        k = min(len(b), -(-store // (WALK_TAIL_PORT_BYTES * b_px)))
        m = len(a) - k
        return [x for i in range(m) for x in (a[i], b[i])] + a[m:] + b[m:]

    def joint_computes(self, base):
        """The first unit's input chunk 0 with the joint first wave (:meth:`~dure.sim.
        walk_cmds.WalkCmds.joint_first`): the taps of the window's first row, in the first
        unit's order (tap 1 first with :meth:`first_tap_swap`), each in the two parts of
        output rows, each part for the output chunks of the first two units (their own weight
        slots and ACC halves): a COMPUTE's next link on its ACC rows comes two COMPUTEs of a
        part later (LATENCY rows). The first COMPUTE reads the image rows of the first part's
        tap row only, and the second chunk's COMPUTE of a part reuses the rows the first
        chunk's read. The window's other taps of input chunk 0 follow in the first unit's
        usual COMPUTEs (of the whole wave; the second unit's in its own)."""
        g = self.g
        order = list(range(g.kh * g.kw))
        if self.first_tap_swap():
            order[0], order[1] = order[1], order[0]
        targets = [(0, 0, self.units[0][3]), (1, 0, self.units[1][3])]
        return [self.array_compute(u_index, jj, j, t, 0, base, s0, sr, t == order[0],
                                   self.joint_w_row(u_index, t))
                for t in order if t in self.joint_set
                for s0, sr in self.joint
                for u_index, jj, j in targets]

    def array_compute(self, u_index, jj, j, t, c, base, s0, sr, first, w_row=None):
        """The COMPUTE on the array of tap ``t``, input chunk ``c`` and the group's jj-th
        output chunk ``j`` of unit ``u_index`` over output rows ``[s0, s0 + sr)`` (``first``:
        its ACC rows' first, from the chunk's starting-value row; ``w_row``: its weights' first
        SPAD row, None: the unit's slot's)."""
        layer, g, plan = self.layer, self.g, self.plan
        ky, kx = divmod(t, g.kw)
        kk = layer.in_cols(c)
        if w_row is None:
            w_row = self.weight_row(u_index, jj, j, t) + c * layer.k_chunk
        a = base + c * self.th_full * g.wp + (s0 * g.sh + ky) * g.wp + kx
        a_end = a + (sr - 1) * g.sh * g.wp + (g.ow - 1) * g.sw + 1
        acc = self.acc_base(u_index) + jj * plan.bh * g.ow + s0 * g.ow
        init = dict(init_row=1, init_addr=self.init_row0 + j) \
            if first and layer.init_rows else {}
        return Cmd(encode(
            Opcode.COMPUTE, precision=layer.precision,
            accumulate=int(not first or (layer.acc_init is not None and not init)),
            a_addr=a, w_addr=w_row, **init, acc_addr=acc, m=sr * g.ow, k=kk,
            n=layer.chunk_cols(j), a_cols=g.ow, a_rows=sr, a_col_step=g.sw,
            a_row_step=g.sh * g.wp),
            spad_reads=((a, a_end), (w_row, w_row + kk)),
            acc_write=(acc, acc + sr * g.ow))

    def wave_computes(self, u_index, unit, base, wave, chunks, outer=False, skip0=False):
        """The COMPUTEs of one wave (``(s0, sr)`` sub-blocks) of the output chunks ``chunks``
        of the unit's group; ``outer``: input chunks outermost; ``skip0``: without input
        chunk 0 (:meth:`joint_computes`' part)."""
        layer, g, plan, cc = self.layer, self.g, self.plan, self.cc
        _, _, rows, j0, gcount = unit
        out = []
        taps = [(ky, kx) for ky in range(g.kh) for kx in range(g.kw)]
        lead = self.dw_first_tap() if u_index == 0 else None
        if layer.eltwise_mac and layer.eltwise_pair and lead is not None:
            # the first unit's first MAC: the tap that reads no padding, alone; the others in
            # pairs (dw_first_tap)
            rest = [tap for i, tap in enumerate(taps) if i != lead]
            steps = [[taps[lead]]] + [rest[i:i + 2] for i in range(0, len(rest), 2)]
        elif layer.eltwise_mac and layer.eltwise_pair:
            steps = [taps[i:i + 2] for i in range(0, len(taps), 2)]
        else:
            steps = [[tap] for tap in taps]
        # with the pair LOAD (taps 0 and 1 of input chunk 0 in one, WalkLayer.pair_weights)
        # input chunk 0 starts with tap 1 (first_tap_swap): a window column off the left
        # padding, so the first COMPUTE does not wait for the side FILL
        swap = outer and self.first_tap_swap()
        order = [(steps[1 - i] if swap and c == 0 and i < 2 else step, c)
                 for c in range(cc) for i, step in enumerate(steps)] if outer else \
            [(step, c) for step in steps for c in range(cc)]
        halves = self.first_halves(wave, len(chunks)) if outer else None
        for step, c in order:
            if skip0 and c == 0 and step[0][0] * g.kw + step[0][1] in self.joint_set:
                continue
            (ky, kx), second = step[0], step[1:]
            t = ky * g.kw + kx
            # the second tap of a pair: its tile rows lie this far after the first's
            tap_step = (second[0][0] - ky) * g.wp + second[0][1] - kx if second else 0
            # input chunk 0 of a 1x1 first unit: its pixels in parts, the group's
            # chunks inside each (first_halves)
            parts = halves if halves and c == 0 else [wave]
            for part, jj in [(part, jj) for part in parts for jj in chunks]:
                j = j0 + jj
                if layer.diagonal and c != j:
                    continue
                kk = layer.in_cols(c)
                if layer.shared_weight is not None:
                    w_row = 0
                else:
                    w_row = self.weight_row(u_index, jj, j, t) + \
                        (0 if layer.diagonal else c * layer.k_chunk)
                t0 = lead if lead is not None else 1 if swap else 0
                first = t == t0 and (layer.diagonal or c == 0) and not skip0
                for s0, sr in part:
                    a = base + c * self.th_full * g.wp + (s0 * g.sh + ky) * g.wp + kx
                    a_end = a + (sr - 1) * g.sh * g.wp + (g.ow - 1) * g.sw + 1
                    acc = self.acc_base(u_index) + jj * plan.bh * g.ow + s0 * g.ow
                    init = dict(init_row=1, init_addr=self.init_row0 + j) \
                        if first and layer.init_rows else {}
                    if layer.eltwise_mac:
                        pair = dict(pair=1, tap_step=tap_step) if second else {}
                        out.append(Cmd(encode(
                            Opcode.ELTWISE, precision=layer.precision, mac=1, **init,
                            accumulate=int(not first or
                                           (layer.acc_init is not None and not init)),
                            a_addr=a, b_addr=w_row, acc_addr=acc, m=sr * g.ow,
                            n=layer.chunk_cols(j), a_cols=g.ow, a_rows=sr,
                            a_col_step=g.sw, a_row_step=g.sh * g.wp, **pair),
                            spad_reads=((a, a_end + tap_step),
                                        (w_row, w_row + 1 + len(second))),
                            acc_write=(acc, acc + sr * g.ow)))
                        continue
                    if layer.eltwise_max:
                        out.append(Cmd(encode(
                            Opcode.ELTWISE, precision=layer.precision,
                            op=EltwiseOp.MAX, accumulate=int(not first), a_addr=a,
                            acc_addr=acc, m=sr * g.ow, n=layer.chunk_cols(j),
                            a_cols=g.ow, a_rows=sr, a_col_step=g.sw,
                            a_row_step=g.sh * g.wp),
                            spad_reads=((a, a_end),),
                            acc_write=(acc, acc + sr * g.ow)))
                        continue
                    out.append(Cmd(encode(
                        Opcode.COMPUTE, precision=layer.precision,
                        accumulate=int(not first or
                                       (layer.acc_init is not None and not init)),
                        diagonal=int(layer.diagonal), a_addr=a, w_addr=w_row, **init,
                        acc_addr=acc, m=sr * g.ow, k=kk, n=layer.chunk_cols(j),
                        a_cols=g.ow, a_rows=sr, a_col_step=g.sw,
                        a_row_step=g.sh * g.wp),
                        spad_reads=((a, a_end), (w_row, w_row + kk)),
                        acc_write=(acc, acc + sr * g.ow)))
        return out

    def dw_first_tap(self):
        """The tap an INT8 depthwise layer on the element-wise MAC (pair MACs) takes first in
        its first unit, alone, or None (then taps in row-major order, in pairs). The first tap
        in row-major order that reads no padding over the first unit's output rows, when tap
        0 reads some and it splits the others into two runs of even length (so they pair into
        consecutive weight rows and the unit keeps its count of MACs): the centre of a 3x3
        SAME window. Its first MAC then waits for no FILL, so the tile's LOAD goes right
        after the weights and the bias row, the FILLs after that MAC (which follows the tile
        row by row, ``config.npu_load_follow``), and with ``config.npu_row_hazard`` the side
        FILLs pass it to the load unit (``rtl/npu/hazard.py`` ``conflict_le``).

        Only where the side padding columns' FILL rows (the tile's rows times the left and
        right padding) are a third or more of the unit's pixels, and the unit holds LATENCY
        pixels or more: narrow maps, whose FILL rows ahead of the tile cost most. Measured on
        the 8x8 ``sim`` SoC (npu fixed INT8 pushed / as one LIST, centre first against row
        order, with the later units' weights one unit ahead): DS-CNN's 25x5x64 358 / 359
        against 396 / 397; MobileNetV1-0.25's 48x48x8 859 / 860 against 822 / 823, 24x24x32
        599 / 600 against 586 / 587, 12x12x64 392 / 393 against 390 / 391, 6x6x128 704 / 705
        against 703 / 693 (session 21, branch kwsfixed). INT8 only: FP16 sums the taps in
        row-major order (docs/numerics.md). C ``walk_dw_first_tap``."""
        _, oy0, rows, _, _ = self.units[0]
        return dw_lead_tap(self.layer, oy0, rows)

    def first_tap_swap(self):
        """Whether the first unit (input chunks outermost) takes input chunk 0's tap 1
        before its tap 0: on an NPU with row-exact hazards (``config.npu_row_hazard``), with
        the pair LOAD (both taps' weights in one,
        :attr:`~dure.sim.walk_layer.WalkLayer.pair_weights`) and a left padding column that
        tap 0 reads and tap 1 does not (nor the right one). Its first COMPUTE then reads no
        side padding, so the first-range side FILL goes after it (:func:`~.walk_cmds.
        a_rows_meet`; C ``walk_first_tap_swap``). Session 19, branch ``rowhaz``; without the
        option the FILL waited for that COMPUTE's end (session 18, fc9: rn8_s2 301 -> 379)."""
        g = self.g
        if not (getattr(self.config, "npu_row_hazard", False) and self.pair and self.c_outer
                and self.layer.first_copied and g.kw >= 2 and g.pl == 1
                and (g.ow - 1) * g.sw < g.width):
            return False
        # only when a first-range side FILL exists (side_fills; rn8_s1's first wave has
        # none: 282 -> 284 with the swap)
        groups = self.th_full if self.spread else self.per_tile * self.th_full
        return self._first_range_groups(self.top_skip, groups) > self.top_skip

    def first_parts(self):
        """The first unit's input chunk 0 parts (:meth:`first_halves` of its first wave and
        chunk range; None where they do not apply or its input chunks are not outermost)."""
        if not self.c_outer:
            return None
        unit, one = self.units[0], len(self.units) == 1
        return self.first_halves(self.pieces(unit, True, one)[0],
                                 chunk_waves(self.config, self.layer, unit[2], unit[4],
                                             self.waved and one)[0][1])

    def first_pair_applies(self):
        """Whether the first unit's first two output chunks take their weights of input
        chunk 0 in one LOAD of a copy (:attr:`~dure.sim.walk_layer.WalkLayer.first_pair`,
        which the layer's planner then lays out) and their starting-value rows in one LOAD
        ahead of it, the group's others right after the first COMPUTE: where input chunk 0
        goes in three parts (:meth:`first_halves`, INT8, four output chunks a group or more)
        and those two chunks have one width. The first COMPUTE then waits for 64 B of
        starting values and 128 B of weights (instead of 128 B and 64 B) and the second one
        no longer for its own weights queued behind the first part's image rows, one push
        fewer. DS-CNN's pointwise 25x5x64 on the 8x8 ``sim`` SoC, npu fixed INT8: 306 -> 297
        pushed, 316 -> 304 as one LIST, with the first part a quarter rounded up
        (:meth:`first_halves`; 302 pushed without that); timing trials on the NPU's
        Verilator model (``dure.sim.verif.walk_trace``, 18-cycle pushes): the copy alone 305
        -> 302, the starting values split alone 307, both 293 (session 22, branch
        ``kwspw2``). C ``walk_first_pair``."""
        parts = self.first_parts()
        unit, j0 = self.units[0], self.units[0][3]
        return bool(parts) and len(parts) == 3 and self.layer.weights is not None and \
            len(self.pieces(unit, True, len(self.units) == 1)) == 1 and \
            self.layer.chunk_cols(j0) == self.layer.chunk_cols(j0 + 1)

    def first_halves(self, wave, gcount):
        """Input chunk 0's sub-blocks in a 1x1 first unit (input chunks outermost, several
        output chunks, one sub-block): with four chunks or more three parts of output rows, a
        quarter, a third and the rest, the group's chunks inside each (else, or where a
        quarter is shorter than a weight switch, RELOAD * R rows, two parts, a third and the
        rest: MobileNetV1-0.25's 12x12x64 -> 64, three chunks a group, took 5 cycles more in
        three parts pushed, 72 in the model; session 20). Its first COMPUTE then
        waits for a quarter of the chunk's pixels (which arrive at 2 cycles a row), and the
        group's other chunks' COMPUTEs of each part cover the LOAD of the next (DS-CNN's
        pointwise 25x5x64: parts of 6, 8 and 11 rows; measured on the 8x8 ``sim`` SoC, npu
        fixed INT8 pushed with a first and second part of (8, the rest) / (6, 7) / (6, 8) /
        (6, 9) / (6, 10) / (5, 8) / (7, 8) / (4, 8) rows: 338 / 326 / 326 / 326 / 328 / 338 /
        331 / 358, session 20; session 14 had swept two parts on the NPU's Verilator model,
        6 / 7 / 8 / 9 / 10 / 13 / 15 of
        the 25 rows first: 376 / 351 / 337 / 340 / 345 / 360 / 370). None when it does not
        apply, with fewer than WALK_SPLIT_MIN_CHUNKS input chunks (dure.gemm_cost, where the
        measurements are) or when the first part would be shorter than a weight switch. C
        ``walk_first_parts``."""
        g = self.g
        if g.kh * g.kw != 1 or gcount < 2 or len(wave) != 1 or \
                self.cc < WALK_SPLIT_MIN_CHUNKS:
            return None
        s0, sr = wave[0]
        least = RELOAD * self.config.npu_rows
        cuts = [sr // 4, sr // 3] if gcount >= 4 and (sr // 4) * g.ow >= least else [sr // 3]
        if len(cuts) == 2 and self.layer.first_pair is not None:
            # with the first pair copy (first_pair_applies) the first part's COMPUTEs have
            # a push fewer among them: a quarter rounded up (DS-CNN's pointwise, first
            # parts of 6 / 7 / 8 rows: npu fixed INT8 pushed 302 / 297 / 301, session 22)
            cuts[0] = -(-sr // 4)
        if cuts[0] * g.ow < least:
            return None
        parts, at = [], s0
        for size in cuts + [sr - sum(cuts)]:
            parts.append([(at, size)])
            at += size
        return parts

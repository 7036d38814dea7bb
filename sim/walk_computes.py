"""The walk engine's COMPUTEs (and the element-wise unit's ELTWISE MACs / MAXes) of a walked
layer's units, in the order that makes FP16 exact: per unit, taps outermost (ky, then kx),
then input chunks, then the group's output chunks, then sub-blocks; the first unit of an INT8
convolution (:attr:`WalkCmds.c_outer <dure.sim.walk_cmds.WalkCmds>`) takes its input chunks
outermost instead. C port: ``firmware/npu/npu_walk_emit.c``.
"""

from dure.rtl.npu.commands import EltwiseOp, Opcode
from dure.rtl.npu.descriptor import encode

from .walk_cmds import Cmd, WalkCmds
from .walk_waves import chunk_waves

__all__ = ["WalkComputes"]


class WalkComputes(WalkCmds):
    """:class:`~dure.sim.walk_cmds.WalkCmds` plus the units' COMPUTEs."""

    def computes(self, u_index, unit, tile_index, first=False, last=False):
        """The COMPUTEs of unit ``u_index`` (``first`` / ``last``: the layer's first / last
        unit, in waves), reading tile buffer ``tile_index``."""
        _, _, rows, j0, gcount = unit
        base = self.tile_base(tile_index) - self.chunk0(unit) * self.th_full * self.g.wp
        out = []
        for c0, cn in chunk_waves(self.config, self.layer, rows, gcount, last and self.waved):
            for wave in self.pieces(unit, first, last):
                out += self.wave_computes(u_index, unit, base, wave, range(c0, c0 + cn),
                                          first and self.c_outer)
        return out

    def wave_computes(self, u_index, unit, base, wave, chunks, outer=False):
        """The COMPUTEs of one wave (``(s0, sr)`` sub-blocks) of the output chunks ``chunks``
        of the unit's group; ``outer``: input chunks outermost."""
        layer, g, plan, cc = self.layer, self.g, self.plan, self.cc
        _, _, rows, j0, gcount = unit
        out = []
        taps = [(ky, kx) for ky in range(g.kh) for kx in range(g.kw)]
        if layer.eltwise_mac and layer.eltwise_pair:
            steps = [taps[i:i + 2] for i in range(0, len(taps), 2)]
        else:
            steps = [[tap] for tap in taps]
        order = [(step, c) for c in range(cc) for step in steps] if outer else \
            [(step, c) for step in steps for c in range(cc)]
        for step, c in order:
            (ky, kx), second = step[0], step[1:]
            t = ky * g.kw + kx
            # the second tap of a pair: its tile rows lie this far after the first's
            tap_step = (second[0][0] - ky) * g.wp + second[0][1] - kx if second else 0
            for jj in chunks:
                j = j0 + jj
                if layer.diagonal and c != j:
                    continue
                kk = layer.in_cols(c)
                if layer.shared_weight is not None:
                    w_row = 0
                else:
                    w_row = self.weight_row(u_index, jj, j, t) + \
                        (0 if layer.diagonal else c * layer.k_chunk)
                first = t == 0 and (layer.diagonal or c == 0)
                for s0, sr in wave:
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

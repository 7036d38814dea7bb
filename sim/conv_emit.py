"""The command emission of a convolution layer lowered by :mod:`dure.sim.conv_plan`: the
:class:`~dure.sim.walk_layer.WalkLayer` built from the weight matrices and STORE fields, the
walk's descriptors (:func:`~dure.sim.walk_plan.plan_walk`,
:func:`~dure.sim.walk_emit.walk_descriptors`) or the tap-packed plan's
(:mod:`dure.sim.conv_pack`), and the :class:`~dure.sim.layer_program.LayerProgram` with its
counts; plus the choice between diagonal COMPUTEs and the element-wise MAC for depthwise
layers (:data:`MAC_PIXELS`).
"""

import numpy as np
from dure.rtl.npu.commands import Precision

from dure.gemm_cost import WALK_MAC_PIXELS

from .conv_pack import (
    IDENTITY_MULTIPLIER,
    IDENTITY_SHIFT,
    pack_layout,
    packed_conv_descriptors,
    packed_weights,
)
from .layer_program import LayerProgram
from .npu_model import perf_macs
from .walk_cmds import WalkCmds, pair_applies
from .walk_computes import WalkComputes
from .walk_emit import walk_descriptors
from .walk_layer import WalkLayer, geometry
from .walk_plan import plan_walk


def _program(config, layer, x_shape, cout, dtype, notes=(), wmodes=None, spread=False,
             listed=False):
    g = layer.geo
    pointwise = (g.kh, g.kw, g.sh, g.sw) == (1, 1, 1, 1)
    plan = plan_walk(config, layer, wmodes, startup=spread and pointwise,
                     startup_tiebreak=pointwise and not spread and not layer.diagonal)
    joint_copies(config, layer, plan)
    pair_copies(layer, plan)
    first_pair_copy(config, layer, plan)
    words = walk_descriptors(config, layer, plan, spread=spread, listed=listed)
    g = layer.geo
    r, c = config.npu_rows, config.npu_cols
    array_macs = perf_macs(words)
    computes = sum(1 for w in words if w[0] & 0xF == 2)
    macs_cmds = sum(1 for w in words if w[0] & 0xF == 6)
    slots = sum((w[4] & 0xFFFF) * r * c for w in words if w[0] & 0xF in (2, 6))
    return LayerProgram(words, layer.blobs, layer.out_addr, (g.batch, g.oh, g.ow, cout), dtype,
                        macs=layer.macs, array_macs=array_macs,
                        lane_use=layer.macs / slots if slots else 0.0, plan=plan,
                        notes=list(notes) + [f"{computes} COMPUTEs"] +
                        ([f"{macs_cmds} ELTWISE MAC"] if macs_cmds else []))


def _conv_layer(config, x_shape, w2, kernel, stride, padding, precision, *, x_addr, out_addr,
                params, acc_init, pad_value, store, const, const_per_chunk, cout, diagonal):
    """Shared tail: the weight matrices (already (taps * kin, cout) per chunk) and the layer."""
    r, c = config.npu_rows, config.npu_cols
    lc = min(r, c)
    k_chunk, n_chunk = (lc, lc) if diagonal else (r, c)
    geo = geometry(x_shape, kernel, stride, padding)
    nt = -(-cout // n_chunk)
    eb = 2 if precision == Precision.FP16 else 1
    weights, mats = [], []
    for j in range(nt):
        mat = w2(j, n_chunk)
        mats.append(mat)
        weights.append((params.add(mat), mat.shape[0]))
    const_addr = params.add(const) if const is not None else 0
    cin = x_shape[3]
    taps = kernel[0] * kernel[1]
    macs = geo.pixels * taps * cout * (1 if diagonal else cin)
    layer = WalkLayer(
        geo=geo, precision=precision, cin=cin, cout=cout, k_chunk=k_chunk, n_chunk=n_chunk,
        diagonal=diagonal, x_addr=x_addr, out_addr=out_addr, pad_value=pad_value,
        out_bytes=eb, store=store, weights=lambda j: weights[j], acc_init=acc_init,
        const_addr=const_addr, const_rows=0 if const is None else const.shape[0],
        const_stride=4 * n_chunk, const_per_chunk=const_per_chunk, macs=macs)
    layer.blobs = params.blobs
    layer.params, layer.mats = params, mats        # for pair_copies, once planned
    return layer


def pair_copies(layer, plan):
    """Lay out :attr:`WalkLayer.pair_weights <dure.sim.walk_layer.WalkLayer>` when the plan
    reads them (:func:`~dure.sim.walk_cmds.pair_applies`): after the layer's other parameter
    bytes, for each output chunk of the first unit's group, its weight rows of taps 0 and 1
    of input chunk 0, contiguous (``in_cols(0)`` rows each); none with the joint copy
    (:func:`joint_copies`, which replaces those LOADs). The firmware's C port
    (firmware/npu/npu_conv.c) writes the same bytes at the same place."""
    if not pair_applies(layer, plan) or layer.joint_weights is not None:
        return
    kc = layer.in_cols(0)
    copies = []
    for j in range(min(plan.gn, layer.out_chunks)):
        mat, kin = layer.mats[j], layer.kin(j)
        copies.append(layer.params.add(np.concatenate([mat[:kc], mat[kin:kin + kc]])))
    layer.pair_weights = tuple(copies)


def joint_copies(config, layer, plan):
    """Lay out :attr:`WalkLayer.joint_weights <dure.sim.walk_layer.WalkLayer>` when the
    plan's first unit computes the joint first wave with its copy
    (:meth:`~dure.sim.walk_cmds.WalkCmds.joint_copy_applies`): after the layer's other
    parameter bytes, per tap t of the window's first row, the second unit's chunk's weight
    rows of tap t of input chunk 0, then the first unit's chunk's (``in_cols(0)`` rows each;
    rn8_s3: 3 x 16 rows of 8 INT8, 384 B, in place of the pair copy's 128 B). The firmware's
    C port (firmware/npu/npu_conv.c) writes the same bytes at the same place."""
    walk = WalkCmds(config, layer, plan)
    if not walk.joint_copy_applies():
        return
    kc = layer.in_cols(0)
    rows = []
    for t in sorted(walk.joint_set):
        for unit in (walk.units[1], walk.units[0]):
            j = unit[3]
            rows.append(layer.mats[j][t * layer.kin(j):t * layer.kin(j) + kc])
    layer.joint_weights = layer.params.add(np.concatenate(rows))


def first_pair_copy(config, layer, plan):
    """Lay out :attr:`WalkLayer.first_pair <dure.sim.walk_layer.WalkLayer>` when the plan
    reads it (:meth:`~dure.sim.walk_computes.WalkComputes.first_pair_applies`): after the
    layer's other parameter bytes, the weight rows of input chunk 0 (matrix rows ``[0,
    kc)``) of the first unit's first output chunk, then of its second (DS-CNN's pointwise: 2
    x 8 rows of 8 INT8, 128 B). The firmware's C port (firmware/npu/npu_conv.c) writes the
    same bytes at the same place."""
    walk = WalkComputes(config, layer, plan)
    if not walk.first_pair_applies():
        return
    kc, j0 = layer.in_cols(0), walk.units[0][3]
    layer.first_pair = layer.params.add(np.concatenate([layer.mats[j0][:kc],
                                                        layer.mats[j0 + 1][:kc]]))


#: INT8 depthwise goes to the element-wise MAC by default when an output image has fewer pixels
#: than this many times the array's rows (dure.gemm_cost.WALK_MAC_PIXELS, where the measurement
#: behind the value is recorded; the firmware's C port reads the same constant).
MAC_PIXELS = WALK_MAC_PIXELS


def _depthwise_mac(config, x_shape, kernel, stride, padding, mac, pair,
                   precision=Precision.INT8):
    """Whether a depthwise layer runs on the element-wise MAC (``mac`` None: the default of
    :func:`depthwise_conv2d_int8_program`); ValueError for ``mac`` without the unit (FP16:
    without its FP16 MAC, ``config.npu_eltwise_fp16_mac``)."""
    fp16 = precision == Precision.FP16
    has = config.npu_eltwise_fp16_mac if fp16 else config.npu_eltwise
    if mac is None:
        g = geometry(x_shape, kernel, stride, padding)
        mac = has and (pair or g.oh * g.ow < MAC_PIXELS * config.npu_rows)
    if mac and not has:
        what = "the element-wise unit's FP16 MAC (npu_eltwise_fp16_mac)" if fp16 else \
            "element-wise unit (npu_eltwise)"
        raise ValueError(f"mac: config {config.name!r} has no {what}")
    return bool(mac)


def _packed_program(config, geo, x_shape, w, params, acc_init, const, store, zi, *, x_addr,
                    out_addr, precision=Precision.INT8):
    """The :mod:`dure.sim.conv_pack` plan of an INT8 or FP16 convolution (parameters as in
    :func:`conv2d_int8_program`, plus the identity matrix and the scratch rows; FP16: ``const``
    the scale rows or None, ``acc_init`` None without bias, ``zi`` 0)."""
    cout, kh, kw, cin = w.shape
    r, c = config.npu_rows, config.npu_cols
    fp16 = precision == Precision.FP16
    lay = pack_layout(config, geo, cin, cout, precision)
    weights = [params.add(m) for m in packed_weights(w, lay, c)]
    if fp16:
        const_addr = 0
        if const is not None:                     # the scale rows in the two-row slots
            slots = np.zeros((2 * const.shape[0], c), np.float32)
            slots[0::2] = const
            const_addr = params.add(slots)
    else:
        ident_rows = np.zeros((2, c), np.int32)
        ident_rows[0], ident_rows[1] = IDENTITY_MULTIPLIER, IDENTITY_SHIFT
        const_addr = params.add(np.concatenate([const, ident_rows]))
    ident_addr = params.add(np.eye(r, dtype=w.dtype))
    scratch_addr = params.add(np.zeros(lay.scratch, w.dtype))
    words = packed_conv_descriptors(
        config, geo, cin, cout, x_addr=x_addr, out_addr=out_addr, weights=weights,
        acc_init=acc_init, const_addr=const_addr, ident_addr=ident_addr,
        scratch_addr=scratch_addr, store=store, pad_value=zi & 0xFFFF, precision=precision)
    macs = geo.pixels * kh * kw * cin * cout
    array_macs = perf_macs(words)
    slots = sum((x[4] & 0xFFFF) * r * c for x in words if x[0] & 0xF == 2)
    computes = sum(1 for x in words if x[0] & 0xF == 2)
    return LayerProgram(words, params.blobs, out_addr, (geo.batch, geo.oh, geo.ow, cout),
                        w.dtype, macs=macs, array_macs=array_macs, lane_use=macs / slots,
                        plan=None, notes=[f"taps packed {lay.lanes} to a COMPUTE",
                                          f"{computes} COMPUTEs"])

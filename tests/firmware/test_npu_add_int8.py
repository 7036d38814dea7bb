"""The firmware's INT8 ADD on the element-wise unit (firmware/npu/npu_add_int8.c) writes
eltwise_plan.add_int8_program's list and parameter bytes word for word, refusals included
(harness: dure.sim.verif.npu_op_host)."""

import numpy as np
import pytest
from dure.sim import eltwise_plan
from dure.sim.verif.npu_op_host import (
    CONFIGS,
    OUT_ADDR,
    PARAM_ADDR,
    Buffers,
    add_params,
    post_int8,
    ptr,
    set_info,
    try_plan,
)


@pytest.mark.parametrize("config_name", list(CONFIGS))
def test_int8_add_writes_the_python_list(op_lib, config_name):
    """INT8 ADD on the element-wise unit (npu_add_int8.c, eltwise_plan.add_int8_program): the
    same list and parameter bytes on random shapes (a partial last row, many blocks),
    parameters, zero points and clamps; bad shifts, zero points and clamps refused by both."""
    config = CONFIGS[config_name]
    set_info(op_lib, config)
    rng = np.random.default_rng(22)
    bufs = Buffers()
    planned = 0
    a_addr, b_addr = 0x8000_0000, 0x8008_0000
    for i in range(30):
        shape = tuple(int(d) for d in rng.integers(1, 40, rng.integers(1, 4)))
        if i % 5 == 0:
            shape = (int(rng.integers(2000, 9000)),)
        prm = add_params(rng)
        zps = [int(z) for z in rng.integers(-128, 128, 3)]
        zo, lo, hi = post_int8(rng)
        zps[2] = zo
        if i % 7 == 3:
            prm = type(prm)(**{**prm.__dict__, "input2_shift": 1})      # refused
        if i % 11 == 5:
            zps[0] = 128                                                # refused
        program = try_plan(eltwise_plan.add_int8_program, config, shape, prm,
                        input1_zero_point=zps[0], input2_zero_point=zps[1],
                        output_zero_point=zps[2], lo=lo, hi=hi, a_addr=a_addr, b_addr=b_addr,
                        out_addr=OUT_ADDR, param_addr=PARAM_ADDR)
        p = [int(np.prod(shape)), a_addr, b_addr, zps[0], zps[1], prm.left_shift,
             prm.input1_multiplier, prm.input1_shift, prm.input2_multiplier, prm.input2_shift,
             prm.output_multiplier, prm.output_shift]
        p = np.array([v - (1 << 32) if v >= 1 << 31 else v for v in p], np.int32)
        q = np.array([zps[2], lo, hi, 0, 0, 0], np.int32)
        count = op_lib.add_int8(ptr(p), ptr(q), *bufs.args())
        planned += bufs.check(count, program, f"add int8 {shape} zps={zps} ({lo}, {hi})")
    assert planned >= 18

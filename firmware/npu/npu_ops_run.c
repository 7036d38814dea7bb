/* npu_ops_run.c: run a lowered layer's descriptor list (npu_ops.h) as LISTs and wait. */
#include "npu_ops.h"

int npu_op_run(const uint32_t *list, uint32_t count)
{
    while (count) {
        uint32_t part = count < 0xFFFFu ? count : 0xFFFFu;
        npu_run_list(list, part);
        list += 8u * part;
        count -= part;
    }
    return npu_wait();
}

/* npu_ops_run.c: run a lowered layer's descriptor list (npu_ops.h) as LISTs and wait. */
#include "npu_ops.h"

static void flush_lists(const uint32_t *list, uint32_t count);

int npu_op_run(const uint32_t *list, uint32_t count)
{
    flush_lists(list, count);
    return npu_wait();
}

static void flush_lists(const uint32_t *list, uint32_t count)
{
    while (count) {
        uint32_t part = count < 0xFFFFu ? count : 0xFFFFu;
        npu_run_list(list, part);
        list += 8u * part;
        count -= part;
    }
}

void npu_op_stream_lists(int on)
{
    npu_op_flush = on ? flush_lists : 0;
}

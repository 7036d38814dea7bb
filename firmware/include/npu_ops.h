/* npu_ops.h: NHWC layer operators lowered onto NPU descriptor lists, in C on the core.
 *
 * The C port of the Python planners (the contract, and the tests' reference):
 *   npu_op_conv2d     sim/conv_plan.py conv2d_int8_program / conv2d_fp16_program
 *   npu_op_depthwise  sim/conv_plan.py depthwise_conv2d_int8_program / _fp16_program
 *   npu_op_avgpool    sim/pool_plan.py average_pool_int8_program / _fp16_program
 *   npu_op_add_fp16   sim/eltwise_plan.py add_fp16_program
 *   npu_op_add_int8   sim/eltwise_plan.py add_int8_program (npu_add_int8.c)
 *   npu_op_maxpool    sim/pool_plan.py max_pool_int8_program / _fp16_program (npu_maxpool.c)
 *   npu_op_conv2d / npu_op_depthwise with an INT8 `scale` and no multiplier:
 *                     conv_plan.py conv2d_int8_float_scale_program /
 *                     depthwise_conv2d_int8_float_scale_program (ONNX QLinearConv)
 * the windowed ones through the one windowed-operator engine of sim/walk_*.py (npu_walk_*.c).
 * Given the same layer, addresses and NPU shape (npu_get_info), each writes the same descriptor list,
 * word for word, and the same parameter bytes (re-laid weights, folded bias, requantization /
 * scale rows) as the Python planner, and refuses what it refuses
 * (tests/firmware/test_npu_conv.py checks both on many random layers).
 *
 * Memory: the NPU reads the input at x_addr (NHWC, dense), writes the output at out_addr
 * (NHWC, dense) and reads the parameter bytes at param_addr (16-byte aligned). The core writes
 * those bytes through `param` (param_cap bytes; on the SoC param is the same memory as
 * param_addr); param NULL: they are not written. The list holds 8 words per descriptor, in
 * queue order, without a FENCE; `list` must be 4-byte aligned and lie in the DMA window to be
 * run by LIST (npu_op_run).
 *
 * Results: the number of descriptors written (> 0); with list NULL, the capacity in
 * descriptors a call needs (the count plus room at the end of the buffer where one unit's
 * LOADs and STOREs are sorted before they take their place); or a negative NPU_E_*:
 * NPU_E_ARG for parameters the Python planner refuses (ValueError there), NPU_E_UNSUPPORTED
 * for no NPU / FP16 on an INT8-only NPU, NPU_E_NO_MEMORY when list or param is too small.
 * No allocation; the only state is static (the last plan, so that the build after a capacity
 * query skips the blocking search, and the walk's sort index): not reentrant. */
#ifndef DURE_NPU_OPS_H
#define DURE_NPU_OPS_H

#include <stdint.h>

#include "npu.h"

enum npu_padding { NPU_PAD_SAME = 0, NPU_PAD_VALID = 1 };

/* Where a lowered layer's memory lies (see above). */
struct npu_op_mem {
    uint32_t x_addr, out_addr, param_addr;
    void *param;
    uint32_t param_cap;
};

/* Output post-processing. INT8: output_zero_point in [-128, 127] and lo <= hi inside
 * [-128, 127] (always applied). FP16: when clamp is set, flo / fhi are fp32 bit patterns,
 * non-NaN with flo <= fhi (a one-sided clamp gives the other side as an infinity). */
struct npu_op_post {
    int32_t output_zero_point;
    int32_t lo, hi;
    int clamp;
    f32_t flo, fhi;
};

/* CONV_2D (weights OHWI: cout x kh x kw x cin) or DEPTHWISE_CONV_2D (weights 1 x kh x kw x cin,
 * cout = cin). prec NPU_INT8: int8 weights, bias int32 or NULL, input_zero_point in [-128, 127],
 * multiplier / shift: cout int32 each (TFLite double rounding; shift in [-31, 30]); or, with
 * multiplier NULL and scale set, the float-scale requantization (ONNX QLinearConv:
 * y = clamp(rne(f32(acc) * scale[o]) + zp_out, lo, hi), scale cout finite fp32 bits; needs the
 * fp32 post-processing, DURE_NPU_HAS_FLOAT_POST, else NPU_E_UNSUPPORTED; shift unused).
 * prec NPU_FP16: f16 weights, bias fp32 bits or NULL, scale cout fp32 bits or NULL.
 * dilation_* and depth_multiplier must be 1 (as the Python planner refuses others).
 * listed (npu_op_conv2d, INT8): the list runs as one LIST fetched by the NPU (npu_op_run), not
 * pushed by the core, so its head may be ordered for that feed (conv_plan.py's listed); 0:
 * pushed (npu_op_depthwise ignores it). */
struct npu_op_conv {
    int prec;
    uint32_t n, h, w, cin, cout;
    uint32_t kh, kw, stride_h, stride_w, dilation_h, dilation_w, depth_multiplier;
    int padding;
    const void *weights;
    const void *bias;
    int32_t input_zero_point;
    const int32_t *multiplier, *shift;
    const f32_t *scale;
    struct npu_op_post post;
    struct npu_op_mem mem;
    int listed;
};

/* AVERAGE_POOL_2D: window kh x kw (at most DURE_NPU_WALK_POOL_MAX_WINDOW taps), INT8 (TFLite's
 * rounded average, zero point 0, clamp lo / hi) or FP16 (binary32 sum times f32(1/n)).
 * MAX_POOL_2D (npu_op_maxpool, on the element-wise unit: NPU_E_UNSUPPORTED without it): the
 * same fields; the maximum of the in-bounds taps, then the clamp (INT8 lo / hi, FP16 clamp). */
struct npu_op_pool {
    int prec;
    uint32_t n, h, w, c;
    uint32_t kh, kw, stride_h, stride_w;
    int padding;
    struct npu_op_post post;
    struct npu_op_mem mem;
};

/* FP16 ADD of two dense tensors of `elements` elements at a_addr / b_addr into mem.out_addr
 * (mem.x_addr unused); post.clamp / flo / fhi as above. */
struct npu_op_add {
    uint32_t elements;
    uint32_t a_addr, b_addr;
    struct npu_op_post post;
    struct npu_op_mem mem;
};

/* INT8 ADD (TFLite's quantized ADD, sim/golden_tflite.py add_int8) of two dense int8 tensors
 * of `elements` elements at a_addr / b_addr into mem.out_addr, on the element-wise unit
 * (NPU_E_UNSUPPORTED without it): the AddParams of sim/golden_tflite_params.py (left_shift
 * must be 20; every shift in [-31, 0]), input zero points, post.output_zero_point and the clamp
 * post.lo / post.hi (mem.x_addr unused). */
struct npu_op_add_int8 {
    uint32_t elements;
    uint32_t a_addr, b_addr;
    int32_t input1_zero_point, input2_zero_point;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    struct npu_op_post post;
    struct npu_op_mem mem;
};

int npu_op_conv2d(const struct npu_op_conv *op, uint32_t *list, uint32_t cap);
int npu_op_depthwise(const struct npu_op_conv *op, uint32_t *list, uint32_t cap);
int npu_op_avgpool(const struct npu_op_pool *op, uint32_t *list, uint32_t cap);
int npu_op_add_fp16(const struct npu_op_add *op, uint32_t *list, uint32_t cap);
int npu_op_add_int8(const struct npu_op_add_int8 *op, uint32_t *list, uint32_t cap);
int npu_op_maxpool(const struct npu_op_pool *op, uint32_t *list, uint32_t cap);

/* Run `count` descriptors at `list` as LISTs (of at most 65535 each) and wait (npu_wait):
 * the NPU's error code (0: none). */
int npu_op_run(const uint32_t *list, uint32_t count);

/* Streaming: while set (non-NULL), every npu_op_* call hands each finished part of its list
 * to `flush` as soon as it is final (the walk: after each unit of output rows and channels;
 * the other operators: the whole list at the end), so the NPU runs one part while the core
 * builds the next; the caller then only waits (npu_wait). npu_op_stream_lists installs the
 * flush that runs the parts as LISTs; NULL (the default) turns streaming off. A call that
 * fails after it handed parts on leaves them running: wait, and discard the output. */
extern void (*npu_op_flush)(const uint32_t *list, uint32_t count);
void npu_op_stream_lists(int on);

#endif

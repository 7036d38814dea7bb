/* layer_stage.c: the layer-table walker's element-wise kernels (layer_walk.h), run on chunks
 * staged through on-chip RAM. */
#include "fixedpoint.h"
#include "layer_walk.h"
#include "npu_cpu_ops.h"

/* Main memory is slow for the core (every access a bus transaction), on-chip RAM is not:
 * elementwise kernels run on chunks staged through RAM, copied a word at a time. */
#define STAGE_BYTES 2048u
static uint32_t stage_a[STAGE_BYTES / 4], stage_b[STAGE_BYTES / 4], stage_y[STAGE_BYTES / 4];

void lt_copy_bytes(uint8_t *dst, const uint8_t *src, uint32_t n)
{
    uint32_t i = 0;
    if ((((uintptr_t)dst | (uintptr_t)src) & 3u) == 0)
        for (; i + 4 <= n; i += 4)
            *(uint32_t *)(dst + i) = *(const uint32_t *)(src + i);
    for (; i < n; i++)
        dst[i] = src[i];
}

/* TFLite INT8 ADD as cpu_add_int8 computes it (golden_tflite.add_int8), with each input's
 * rescaling (a function of the int8 value alone) looked up in a 256-entry table built once per
 * layer: the same fixed-point operations, a third of them per element. */
static int32_t add_t1[256], add_t2[256];

static void add_tables(const struct cpu_add_int8 *p)
{
    for (int32_t v = -128; v < 128; v++) {
        int32_t v1 = (int32_t)((uint32_t)(v - p->input1_zero_point) << p->left_shift);
        int32_t v2 = (int32_t)((uint32_t)(v - p->input2_zero_point) << p->left_shift);
        add_t1[v + 128] = fx_rdbpot(fx_srdhm(v1, p->input1_multiplier), -p->input1_shift);
        add_t2[v + 128] = fx_rdbpot(fx_srdhm(v2, p->input2_multiplier), -p->input2_shift);
    }
}

static void add_int8_lut(const struct cpu_add_int8 *p, const int8_t *x1, const int8_t *x2,
                         int8_t *y, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        int32_t out = fx_rdbpot(fx_srdhm(fx_add(add_t1[x1[i] + 128], add_t2[x2[i] + 128]),
                                         p->output_multiplier), -p->output_shift);
        out += p->output_zero_point;
        y[i] = (int8_t)(out < p->lo ? p->lo : out > p->hi ? p->hi : out);
    }
}

/* ADD (INT8 or FP16, eb bytes per element) of count elements, staged chunk by chunk. */
int lt_staged_add(const uint32_t *r, const uint8_t *a, const uint8_t *b, uint8_t *y,
                  uint32_t count, uint32_t eb)
{
    struct cpu_add_int8 p = {
        (int32_t)r[18], (int32_t)r[19], (int32_t)r[20], (int32_t)r[21], (int32_t)r[22],
        (int32_t)r[23], (int32_t)r[24], (int32_t)r[25], (int32_t)r[26], (int32_t)r[27],
        (int32_t)r[28], (int32_t)r[29]};
    uint32_t chunk = STAGE_BYTES / eb;
    int lut = eb == 1 && count >= 512;
    if (lut) {
        int rc = cpu_add_int8(&p, 0, 0, 0, 0);        /* checks the parameters only */
        if (rc)
            return rc;
        add_tables(&p);
    }
    for (uint32_t first = 0; first < count; first += chunk) {
        uint32_t n = count - first < chunk ? count - first : chunk;
        lt_copy_bytes((uint8_t *)stage_a, a + first * eb, n * eb);
        lt_copy_bytes((uint8_t *)stage_b, b + first * eb, n * eb);
        if (lut) {
            add_int8_lut(&p, (const int8_t *)stage_a, (const int8_t *)stage_b,
                         (int8_t *)stage_y, n);
            lt_copy_bytes(y + first, (const uint8_t *)stage_y, n);
            continue;
        }
        int rc = eb == 2 ? cpu_add_fp16((const f16_t *)stage_a, (const f16_t *)stage_b,
                                        (f16_t *)stage_y, n, (int)r[17], r[15], r[16])
                         : cpu_add_int8(&p, (const int8_t *)stage_a, (const int8_t *)stage_b,
                                        (int8_t *)stage_y, n);
        if (rc)
            return rc;
        lt_copy_bytes(y + first * eb, (const uint8_t *)stage_y, n * eb);
    }
    return 0;
}

/* float32 -> int8 QUANTIZE of r[5] values with scale r[15], zero point r[18] (ONNX: clamp
 * [r[19], r[20]]), staged chunk by chunk; the scale's reciprocal made once. */
int lt_staged_quantize(const uint32_t *r, const uint32_t *x, int8_t *y, int onnx)
{
    struct cpu_scale_div d;
    cpu_scale_div_init(&d, r[15]);
    int32_t zp = (int32_t)r[18], lo = (int32_t)r[19], hi = (int32_t)r[20];
    uint32_t chunk = STAGE_BYTES / 4;
    int rc = onnx ? cpu_quantize_onnx(0, 0, 0, r[15], zp, lo, hi, &d)      /* arguments */
                  : cpu_quantize_tflite(0, 0, 0, r[15], zp, &d);
    for (uint32_t first = 0; !rc && first < r[5]; first += chunk) {
        uint32_t n = r[5] - first < chunk ? r[5] - first : chunk;
        lt_copy_bytes((uint8_t *)stage_a, (const uint8_t *)(x + first), n * 4);
        rc = onnx ? cpu_quantize_onnx(stage_a, (int8_t *)stage_y, n, r[15], zp, lo, hi, &d)
                  : cpu_quantize_tflite(stage_a, (int8_t *)stage_y, n, r[15], zp, &d);
        lt_copy_bytes((uint8_t *)(y + first), (const uint8_t *)stage_y, n);
    }
    return lt_kernel_status(rc);
}


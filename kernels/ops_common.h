/* kernels/ops_common.h — scalar helpers every backend shares, so the CPU reference and the CUDA kernels compute the
 * same numbers: bf16/f16 conversions (round-to-nearest-even), adaptive-pool window bounds, RoPE frequencies.
 * Written so nvcc can compile it too (HB_HD marks host+device functions); plain C11, no libm beyond powf.
 *
 * Dependencies:
 *   <stdint.h>, <string.h>  fixed-width integers, memcpy for type punning
 *   <math.h>                powf (RoPE inverse frequencies)
 */
#ifndef HB_OPS_COMMON_H
#define HB_OPS_COMMON_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define HB_HD __host__ __device__ static inline
#else
#define HB_HD static inline
#endif

HB_HD uint32_t hb_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
HB_HD float hb_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* bf16 = the top 16 bits of an f32. Round to nearest, ties to even; NaN stays a (quiet) NaN. */
HB_HD uint16_t hb_f32_to_bf16(float f) {
    uint32_t u = hb_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
HB_HD float hb_bf16_to_f32(uint16_t h) { return hb_bits_f32((uint32_t)h << 16); }
/* f32 -> nearest bf16 value, kept as f32 (how the CPU backend stores BF16 tensors). */
HB_HD float hb_round_bf16(float f) { return hb_bf16_to_f32(hb_f32_to_bf16(f)); }

/* IEEE half precision. */
HB_HD float hb_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0) { /* zero or subnormal: man · 2^-24 */
        float v = (float)man * 5.9604644775390625e-8f;
        return hb_bits_f32(hb_f32_bits(v) | sign);
    }
    if (exp == 31) return hb_bits_f32(sign | 0x7f800000u | (man << 13)); /* inf / nan */
    return hb_bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}
HB_HD uint16_t hb_f32_to_f16(float f) {
    uint32_t u = hb_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* nan: quiet, payload kept */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to >= 65520: inf */
    if (a < 0x38800000u) {                                   /* below the smallest normal half (2^-14) */
        if (a < 0x33000000u) return sign;                    /* < 2^-25: rounds to zero */
        uint32_t man = (a & 0x7fffffu) | 0x800000u;          /* 24-bit significand */
        int shift = 126 - (int)(a >> 23);                    /* 14..24 for subnormal results */
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1u), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t r = a - 0x38000000u; /* rebias exponent 127 -> 15 (in the f32 bit layout) */
    r += 0xfffu + ((r >> 13) & 1u);
    return (uint16_t)(sign | (r >> 13));
}

/* Adaptive average pooling window along one axis (PyTorch's rule): output i of m over an input of length n covers
 * [floor(i·n/m), ceil((i+1)·n/m)). */
HB_HD int64_t hb_pool_start(int64_t i, int64_t n, int64_t m) { return (i * n) / m; }
HB_HD int64_t hb_pool_end(int64_t i, int64_t n, int64_t m) { return ((i + 1) * n + m - 1) / m; }

/* RoPE inverse frequency of pair i (0 <= i < D/2), computed in fp32 as HF LlamaRotaryEmbedding does:
 * 1 / theta^(float(2i)/D). The angle is then pos·inv_freq rounded to fp32. */
HB_HD float hb_rope_inv_freq(int64_t i, int64_t D, float theta) {
    float e = (float)(2 * i) / (float)D;
    return 1.0f / powf(theta, e);
}

#endif

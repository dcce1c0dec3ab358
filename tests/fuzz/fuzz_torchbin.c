/* Fuzz the PyTorch checkpoint reader (model/torchbin.c, model/torchbin_zip.c, and the pickle reader's object mode)
 * through hb_st_open. Byte 0 chooses the input:
 *   'Z'  the rest is a whole file: zip directory, zip64, local headers, then everything below;
 *   'P'  the rest is a data.pkl, which the harness stores in a valid torch-like zip next to storages "0" (16 f32)
 *        and "1" (16 bf16), so the fuzzer works on the pickle shapes, the allow-list and the views, not on offsets.
 * Checks: a failure is a known code with a reason; what opens is a set whose every tensor is found by its name, has
 * numel = the product of its shape, converts (float dtypes) and whose bytes are all readable.
 * Seeds: tests/fuzz/corpus/torchbin (small files of tests/fixtures/torchbin and their data.pkl). */
#include "fuzz.h"
#include "model/safetensors.h"

/* A zip of stored entries (local headers, central directory, end record), as torch writes it but unaligned. */
static void zip_add(hb_buf *z, hb_buf *cd, const char *name, const void *data, size_t n) {
    size_t off = z->len, nl = strlen(name);
    hb_buf_put_u32(z, 0x04034b50u);
    hb_buf_put_u16(z, 20), hb_buf_put_u16(z, 0), hb_buf_put_u16(z, 0), hb_buf_put_u16(z, 0), hb_buf_put_u16(z, 0);
    hb_buf_put_u32(z, 0), hb_buf_put_u32(z, (uint32_t)n), hb_buf_put_u32(z, (uint32_t)n);
    hb_buf_put_u16(z, (uint16_t)nl), hb_buf_put_u16(z, 0);
    hb_buf_append(z, name, nl);
    hb_buf_append(z, data, n);
    hb_buf_put_u32(cd, 0x02014b50u);
    hb_buf_put_u16(cd, 20), hb_buf_put_u16(cd, 20), hb_buf_put_u16(cd, 0), hb_buf_put_u16(cd, 0);
    hb_buf_put_u16(cd, 0), hb_buf_put_u16(cd, 0);
    hb_buf_put_u32(cd, 0), hb_buf_put_u32(cd, (uint32_t)n), hb_buf_put_u32(cd, (uint32_t)n);
    hb_buf_put_u16(cd, (uint16_t)nl), hb_buf_put_u16(cd, 0), hb_buf_put_u16(cd, 0), hb_buf_put_u16(cd, 0);
    hb_buf_put_u16(cd, 0), hb_buf_put_u32(cd, 0), hb_buf_put_u32(cd, (uint32_t)off);
    hb_buf_append(cd, name, nl);
}

static char *wrap_pickle(const uint8_t *pk, size_t n) {
    hb_buf z = {0}, cd = {0};
    float f[16];
    uint16_t h[16];
    for (int i = 0; i < 16; i++) f[i] = (float)i, h[i] = hb_f32_to_bf16(100.0f + (float)i);
    zip_add(&z, &cd, "archive/data.pkl", pk, n);
    zip_add(&z, &cd, "archive/byteorder", "little", 6);
    zip_add(&z, &cd, "archive/data/0", f, sizeof f);
    zip_add(&z, &cd, "archive/data/1", h, sizeof h);
    size_t cd_off = z.len;
    hb_buf_append(&z, cd.data, cd.len);
    hb_buf_put_u32(&z, 0x06054b50u);
    hb_buf_put_u16(&z, 0), hb_buf_put_u16(&z, 0), hb_buf_put_u16(&z, 4), hb_buf_put_u16(&z, 4);
    hb_buf_put_u32(&z, (uint32_t)cd.len), hb_buf_put_u32(&z, (uint32_t)cd_off), hb_buf_put_u16(&z, 0);
    char *path = fz_write("p.bin", z.data, z.len);
    hb_buf_free(&z), hb_buf_free(&cd);
    return path;
}

static void use(hb_st *st) {
    for (size_t i = 0; i < hb_st_count(st); i++) {
        const hb_st_tensor *t = hb_st_at(st, i);
        FZ_ASSERT(t && hb_st_find(st, t->name) == t, "tensor %zu not found by name", i);
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
        FZ_ASSERT(numel == t->numel, "%s: numel %lld, shape product %lld", t->name, (long long)t->numel,
                  (long long)numel);
        if (t->numel > (1 << 20)) continue;
        size_t nb = (size_t)t->numel * hb_st_dtype_size(t->dtype);
        volatile uint8_t sink = 0;
        for (size_t b = 0; b < nb; b++) sink ^= ((const uint8_t *)t->data)[b];
        (void)sink;
        if (t->dtype == HB_ST_F32 || t->dtype == HB_ST_F16 || t->dtype == HB_ST_BF16 || t->dtype == HB_ST_F64) {
            float *f = malloc(4 * (size_t)t->numel + 4);
            hb_err e;
            hb_err_clear(&e);
            int rc = hb_st_read_f32(st, t, f, t->numel, &e);
            FZ_ASSERT(rc == 0, "float tensor %s does not convert: %s", t->name, e.reason);
            free(f);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char *path = data[0] == 'P' ? wrap_pickle(data + 1, size - 1) : fz_write("z.bin", data + 1, size - 1);
    hb_err e;
    hb_err_clear(&e);
    hb_st *st;
    int rc = hb_st_open(path, &st, &e);
    if (rc) {
        fz_check_err(rc, &e);
    } else {
        use(st);
        hb_st_close(st);
    }
    free(path);
    return 0;
}

/* Fuzz the safetensors reader (model/safetensors.c) on arbitrary file bytes: header JSON, dtypes, shapes, offsets
 * and the exact tiling of the data; every tensor that opens is converted (float or int). Byte 0 chooses whether the
 * input is a .safetensors file or a *.safetensors.index.json naming a fixed small shard.
 * Seeds: tests/fuzz/corpus/safetensors (small files written by the reference `safetensors` package, and an index). */
#include "fuzz.h"
#include "model/safetensors.h"

static void use(hb_st *st) {
    for (size_t i = 0; i < hb_st_count(st); i++) {
        const hb_st_tensor *t = hb_st_at(st, i);
        FZ_ASSERT(t && hb_st_find(st, t->name) == t, "tensor %zu not found by name", i);
        char shape[256];
        hb_st_shape_str(t->ndim, t->shape, shape, sizeof shape);
        if (t->numel > (1 << 20)) continue;
        hb_err e;
        if (t->dtype == HB_ST_F32 || t->dtype == HB_ST_F16 || t->dtype == HB_ST_BF16 || t->dtype == HB_ST_F64) {
            float *f = malloc(4 * (size_t)t->numel + 4);
            hb_err_clear(&e);
            int rc = hb_st_read_f32(st, t, f, t->numel, &e);
            FZ_ASSERT(rc == 0, "float tensor %s does not convert: %s", t->name, e.reason);
            free(f);
        } else {
            int32_t *v = malloc(4 * (size_t)t->numel + 4);
            hb_err_clear(&e);
            int rc = hb_st_read_i32(st, t, v, t->numel, &e);
            if (rc) fz_check_err(rc, &e);
            free(v);
        }
    }
    hb_st_meta(st, "format");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int index = data[0] == 'I';
    char *path;
    if (index) {
        /* a shard the index may name: one F32 tensor "w" of shape [2] */
        static const char hdr[] = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        hb_buf b = {0};
        size_t hl = (sizeof hdr - 1 + 7) & ~(size_t)7;
        hb_buf_put_u64(&b, hl);
        hb_buf_append(&b, hdr, sizeof hdr - 1);
        while (b.len < 8 + hl) hb_buf_putc(&b, ' ');
        static const float w[2] = {1, 2};
        hb_buf_append(&b, w, sizeof w);
        free(fz_write("a.safetensors", b.data, b.len));
        hb_buf_free(&b);
        path = fz_write("x.safetensors.index.json", data + 1, size - 1);
    } else {
        path = fz_write("x.safetensors", data + 1, size - 1);
    }
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

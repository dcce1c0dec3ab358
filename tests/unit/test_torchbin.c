/* model/torchbin: PyTorch zip checkpoints (pytorch_model*.bin) read through hb_st, against the fixtures of
 * tests/ref/gen_torchbin_fixtures.py: every dtype, pickle protocols 2 and 4, shared storages and strided views,
 * zip64, HF 4.x sharded save_pretrained(safe_serialization=False) layouts of Honeybee / LLaMA / CLIP (bit-identical to
 * their safetensors forms; init and debug give the same files), and malformed or malicious files, each a clear error
 * naming the file. Also the pickle reader's object mode and the directory rules. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "helpers/testutil.h"
#include "kernels/ops.h"
#include "model/safetensors.h"
#include "model/tools.h"
#include "model/torchbin.h"
#include "sources/pickle.h"

static char *fx(const char *rel) {
    char p[300];
    snprintf(p, sizeof p, "tests/fixtures/%s", rel);
    return tu_repo(p);
}

/* Every tensor of b is in a with the same dtype, shape and bytes; exact: and a has no other tensors. */
static void assert_same_sets(const char *ra, const char *rb, int exact) {
    char *a = fx(ra), *b = fx(rb);
    hb_st *sa, *sb;
    hb_err e;
    cr_assert_eq(hb_st_open(a, &sa, &e), 0, "%s: %s", e.file, e.reason);
    cr_assert_eq(hb_st_open(b, &sb, &e), 0, "%s: %s", e.file, e.reason);
    if (exact) cr_assert_eq(hb_st_count(sa), hb_st_count(sb), "%s vs %s: tensor counts", ra, rb);
    size_t compared = 0;
    for (size_t i = 0; i < hb_st_count(sb); i++) {
        const hb_st_tensor *y = hb_st_at(sb, i), *x = hb_st_find(sa, y->name);
        cr_assert(x, "%s lacks %s", ra, y->name);
        cr_assert_eq(x->dtype, y->dtype, "%s: dtype %s vs %s", y->name, hb_st_dtype_name(x->dtype),
                     hb_st_dtype_name(y->dtype));
        cr_assert_eq(x->ndim, y->ndim, "%s: ndim", y->name);
        for (int d = 0; d < x->ndim; d++) cr_assert_eq(x->shape[d], y->shape[d], "%s: shape[%d]", y->name, d);
        size_t nb = (size_t)x->numel * hb_st_dtype_size(x->dtype);
        cr_assert(nb == 0 || memcmp(x->data, y->data, nb) == 0, "%s: bytes differ", y->name);
        compared++;
    }
    cr_assert_gt(compared, 0);
    hb_st_close(sa), hb_st_close(sb);
    free(a), free(b);
}

Test(torchbin, every_dtype_matches_the_safetensors_reference) {
    assert_same_sets("torchbin/dtypes.bin", "torchbin/dtypes.safetensors", 1);
    assert_same_sets("torchbin/dtypes_p4.bin", "torchbin/dtypes.safetensors", 1);
}

Test(torchbin, shared_storages_offsets_and_strided_views) {
    assert_same_sets("torchbin/views.bin", "torchbin/views.safetensors", 1);
    assert_same_sets("torchbin/views_zip64.bin", "torchbin/views.safetensors", 1);
    /* contiguous views point into the mapped storage (no copy): the slice starts 10 elements into base */
    char *p = fx("torchbin/views.bin");
    hb_st *st;
    hb_err e;
    cr_assert_eq(hb_st_open(p, &st, &e), 0, "%s", e.reason);
    const hb_st_tensor *base = hb_st_find(st, "base"), *slice = hb_st_find(st, "slice");
    const hb_st_tensor *emb = hb_st_find(st, "embed.weight"), *head = hb_st_find(st, "lm_head.weight");
    cr_assert_eq((const uint8_t *)slice->data, (const uint8_t *)base->data + 10 * 2);
    cr_assert_eq(emb->data, head->data, "a tied pair shares its bytes");
    cr_assert_eq((uintptr_t)base->data % 64, 0, "torch aligns storages to 64 bytes");
    float v[6];
    cr_assert_eq(hb_st_read_f32(st, hb_st_find(st, "param"), v, 6, &e), 0, "%s", e.reason);
    for (int i = 0; i < 6; i++) cr_assert_eq(v[i], (float)i, "nn.Parameter values");
    hb_st_close(st);
    free(p);
}

Test(torchbin, sharded_hf_checkpoints_equal_their_safetensors_forms) {
    assert_same_sets("torchbin/honeybee", "model/a/model.safetensors", 1);
    assert_same_sets("torchbin/honeybee/pytorch_model.bin.index.json", "model/a", 1);
    assert_same_sets("torchbin/hf_llama", "model/a/hf_llama", 0);
    assert_same_sets("torchbin/hf_clip_model", "model/a/hf_clip_model", 0);
    /* one shard alone opens as a file */
    char *p = fx("torchbin/hf_llama/pytorch_model-00002-of-00003.bin");
    hb_st *st;
    hb_err e;
    cr_assert_eq(hb_st_open(p, &st, &e), 0, "%s", e.reason);
    cr_assert_gt(hb_st_count(st), 0);
    cr_assert_str_eq(hb_st_file(st, hb_st_at(st, 0)->file), p);
    hb_st_close(st);
    free(p);
}

Test(torchbin, malformed_and_malicious_files_give_clear_errors) {
    char *jp = fx("torchbin/bad/bad.json");
    size_t n;
    uint8_t *raw = tu_read(jp, &n);
    cr_assert(raw, "%s", jp);
    cJSON *j = cJSON_ParseWithLength((const char *)raw, n);
    free(raw);
    int cases = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        char rel[200];
        snprintf(rel, sizeof rel, "torchbin/bad/%s", it->string);
        char *p = fx(rel);
        const char *code = cJSON_GetArrayItem(it, 0)->valuestring, *words = cJSON_GetArrayItem(it, 1)->valuestring;
        hb_st *st = NULL;
        hb_err e;
        hb_err_clear(&e);
        int rc = hb_st_open(p, &st, &e);
        if (!strcmp(code, "OK")) {
            cr_assert_eq(rc, 0, "%s: %s", it->string, e.reason);
            hb_st_close(st);
        } else {
            cr_assert_neq(rc, 0, "%s was accepted", it->string);
            cr_assert_null(st);
            hb_code want = !strcmp(code, "EFORMAT") ? HB_EFORMAT : !strcmp(code, "EUNSUPPORTED") ? HB_EUNSUPPORTED
                                                                                                 : HB_EINTERNAL;
            cr_assert_eq(rc, want, "%s: %s (%s), expected %s", it->string, hb_code_name((hb_code)rc), e.reason, code);
            cr_assert(strstr(e.reason, words), "%s: '%s' lacks '%s'", it->string, e.reason, words);
            cr_assert(strstr(e.file, it->string), "%s: the error names %s", it->string, e.file);
        }
        free(p);
        cases++;
    }
    cr_assert_geq(cases, 18);
    cJSON_Delete(j);
    free(jp);
}

/* Every prefix and many single-byte corruptions of a real file: an error or a valid set, never a crash (ASan) */
Test(torchbin, truncated_and_corrupted_files) {
    char *src = fx("torchbin/views.bin"), *d = tu_mkdtemp(), *p = hb_path_join(d, "x.bin");
    size_t n;
    uint8_t *raw = tu_read(src, &n);
    cr_assert(raw);
    for (size_t k = 0; k < n; k += (k < 64 || k > n - 200 ? 1 : 7)) {
        tu_write(p, raw, k);
        hb_st *st;
        hb_err e;
        hb_err_clear(&e);
        int rc = hb_st_open(p, &st, &e);
        cr_assert_neq(rc, 0, "a %zu-byte prefix of %zu was accepted", k, n);
        cr_assert(e.reason[0]);
    }
    uint8_t *c = hb_xmalloc(n);
    for (size_t k = 0; k < n; k += 3) {
        memcpy(c, raw, n);
        c[k] ^= (uint8_t)(0x5a + k);
        tu_write(p, c, n);
        hb_st *st;
        hb_err e;
        hb_err_clear(&e);
        if (hb_st_open(p, &st, &e) == 0) {
            for (size_t i = 0; i < hb_st_count(st); i++) {
                const hb_st_tensor *t = hb_st_at(st, i);
                volatile uint8_t sink = 0;
                for (size_t b = 0; b < (size_t)t->numel * hb_st_dtype_size(t->dtype); b++)
                    sink ^= ((const uint8_t *)t->data)[b]; /* every byte readable */
                (void)sink;
            }
            hb_st_close(st);
        } else {
            cr_assert(e.reason[0]);
        }
    }
    free(c), free(raw), free(p), free(src);
    tu_rmtree(d);
    free(d);
}

Test(torchbin, sniffing_tells_zip_legacy_and_safetensors_apart) {
    static const uint8_t legacy[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                     0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
    cr_assert_eq(hb_tb_sniff((const uint8_t *)"PK\3\4xxxx", 8), HB_TB_ZIP);
    cr_assert_eq(hb_tb_sniff(legacy, sizeof legacy), HB_TB_LEGACY);
    /* a safetensors header of 640 bytes starts with 0x80 0x02 too */
    cr_assert_eq(hb_tb_sniff((const uint8_t *)"\x80\x02\0\0\0\0\0\0{", 9), HB_TB_NOT_TORCH);
}

Test(torchbin, directories_prefer_safetensors_then_pytorch_model_bin) {
    char *d = tu_mkdtemp(), *src = fx("torchbin/views.bin"), *st_src = fx("torchbin/dtypes.safetensors");
    size_t n, m;
    uint8_t *bin = tu_read(src, &n), *sf = tu_read(st_src, &m);
    char *p = hb_path_join(d, "training_args.bin");
    tu_write(p, "PK\5\6", 4);
    free(p);
    hb_st *st;
    hb_err e;
    cr_assert_eq(hb_st_open(d, &st, &e), HB_ENOTFOUND, "training_args.bin is not weights");
    cr_assert(strstr(e.reason, "pytorch_model"), "%s", e.reason);
    p = hb_path_join(d, "weights.bin");
    tu_write(p, bin, n);
    free(p);
    cr_assert_eq(hb_st_open(d, &st, &e), 0, "%s", e.reason); /* the only .bin */
    cr_assert_neq(hb_st_find(st, "mat_t"), NULL);
    hb_st_close(st);
    p = hb_path_join(d, "other.bin");
    tu_write(p, bin, n);
    free(p);
    cr_assert_eq(hb_st_open(d, &st, &e), HB_EINVAL, "two .bin files: name one");
    p = hb_path_join(d, "pytorch_model.bin");
    tu_write(p, bin, n);
    free(p);
    cr_assert_eq(hb_st_open(d, &st, &e), 0, "%s", e.reason);
    cr_assert(strstr(hb_st_file(st, 0), "pytorch_model.bin"));
    hb_st_close(st);
    p = hb_path_join(d, "model.safetensors");
    tu_write(p, sf, m);
    free(p);
    cr_assert_eq(hb_st_open(d, &st, &e), 0, "%s", e.reason);
    cr_assert(strstr(hb_st_file(st, 0), "model.safetensors"), "safetensors first, as transformers");
    hb_st_close(st);
    free(bin), free(sf), free(src), free(st_src);
    tu_rmtree(d);
    free(d);
}

/* hb-train init with the .bin CLIP and LLaMA, and debug on the .bin Honeybee checkpoint, write the same bytes as
 * from the safetensors forms. */
static uint8_t *init_with(const char *clip, const char *llama, const char *dir, size_t *n) {
    char *cfg = fx("model/a/config.json"), *c = fx(clip), *l = fx(llama), *out = hb_path_join(dir, clip);
    hb_err e;
    hb_ops *ops = hb_ops_open("cpu", NULL, &e);
    hb_init_opts o = {.config = cfg, .clip = c, .llama = l, .out_dir = out, .seed = 3, .dtype = HB_ST_F32};
    cr_assert_eq(hb_train_init(ops, &o, NULL, &e), 0, "%s: %s", e.file, e.reason);
    char *mp = hb_path_join(out, "model.safetensors");
    uint8_t *r = tu_read(mp, n);
    cr_assert(r);
    hb_ops_close(ops);
    free(cfg), free(c), free(l), free(out), free(mp);
    return r;
}

static uint8_t *debug_with(const char *ckpt, const char *dir, const char *name, size_t *n) {
    char *ck = fx(ckpt), *batch = fx("model/a/batch.safetensors"), *out = hb_path_join(dir, name);
    hb_err e;
    hb_ops *ops = hb_ops_open("cpu", NULL, &e);
    cr_assert_eq(hb_train_debug(ops, ck, HB_STAGE_FT, batch, out, NULL, &e), 0, "%s: %s", e.file, e.reason);
    uint8_t *r = tu_read(out, n);
    cr_assert(r);
    hb_ops_close(ops);
    free(ck), free(batch), free(out);
    return r;
}

Test(torchbin, init_and_debug_from_bin_equal_safetensors) {
    char *d = tu_mkdtemp();
    size_t na, nb;
    uint8_t *a = init_with("model/a/hf_clip_model", "model/a/hf_llama", d, &na);
    uint8_t *b = init_with("torchbin/hf_clip_model", "torchbin/hf_llama/pytorch_model.bin.index.json", d, &nb);
    cr_assert(na == nb && memcmp(a, b, na) == 0, "init from .bin differs from init from safetensors");
    free(a), free(b);
    a = debug_with("model/a", d, "st.safetensors", &na);
    b = debug_with("torchbin/honeybee", d, "bin.safetensors", &nb);
    cr_assert(na == nb && memcmp(a, b, na) == 0, "debug (loss, logits, gradients) differs between .bin and safetensors");
    free(a), free(b);
    tu_rmtree(d);
    free(d);
}

/* The pickle reader: object mode builds inert nodes that no dict can forge and memo copies keep; data mode still
 * refuses them. */
Test(torchbin, pickle_object_mode_nodes) {
    /* PROTO 2; GLOBAL 'collections OrderedDict'; BINPUT 0; EMPTY_TUPLE; REDUCE; MARK 'k' BINGET 0 SETITEMS;
     * then a dict {'global': 'x'} in a tuple with it; STOP */
    static const char pk[] = "\x80\x02" "ccollections\nOrderedDict\nq\x00)R(X\x01\x00\x00\x00kh\x00u"
                             "}X\x06\x00\x00\x00globalX\x01\x00\x00\x00xs\x86.";
    cJSON *t = NULL;
    hb_err e;
    cr_assert_eq(hb_pickle_parse((const uint8_t *)pk, sizeof pk - 1, "t.p", &t, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "refused"), "%s", e.reason);
    cr_assert_eq(hb_pickle_parse_objects((const uint8_t *)pk, sizeof pk - 1, "t.p", &t, &e), 0, "%s", e.reason);
    const cJSON *od = cJSON_GetArrayItem(t, 0), *fake = cJSON_GetArrayItem(t, 1);
    cr_assert_str_eq(hb_pickle_node_kind(od), "reduce");
    const cJSON *g = cJSON_GetObjectItem(od, "reduce");
    cr_assert_str_eq(hb_pickle_node_kind(g), "global");
    cr_assert_str_eq(cJSON_GetObjectItem(g, "global")->valuestring, "collections.OrderedDict");
    const cJSON *k = cJSON_GetObjectItem(cJSON_GetObjectItem(od, "items"), "k");
    cr_assert_str_eq(hb_pickle_node_kind(k), "global", "a memo copy (BINGET) stays an inert node");
    cr_assert(cJSON_IsObject(fake) && hb_pickle_node_kind(fake) == NULL, "a dict {'global': ..} is data");
    cJSON_Delete(t);
    /* BUILD on plain data and INST are refused in object mode too */
    cr_assert_eq(hb_pickle_parse_objects((const uint8_t *)"\x80\x02}}b.", 6, "t.p", &t, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "BUILD"), "%s", e.reason);
    cr_assert_eq(hb_pickle_parse_objects((const uint8_t *)"(iposix\nsystem\n.", 16, "t.p", &t, &e), HB_EFORMAT);
    /* found while fuzzing torchbin: a 9-byte LONG_BINPUT 2^26 - 2 made both modes allocate a 512 MB memo */
    cr_assert_eq(hb_pickle_parse((const uint8_t *)"\x80\x02Nr\xfe\xff\xff\x03.", 9, "t.p", &t, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "memo index too large"), "%s", e.reason);
}

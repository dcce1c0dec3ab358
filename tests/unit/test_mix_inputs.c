/* lib/mix inputs: the lengths cache (built once, reused, rebuilt when stale or damaged, pruned), the light length
 * reader against the full sample decoder, weight kinds and units, directories without a manifest, and bad inputs
 * that must fail before anything is written (a previous plan stays intact). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "helpers/mixutil.h"
#include "helpers/testutil.h"
#include "mix/mix.h"
#include "shard/shard.h"

static const char *const NAMES[] = {"vqav2", "gqa", "ocrvqa", "textchat"};

static char *layout(int manifest) {
    char *d = tu_mkdtemp();
    cr_assert_not_null(d);
    cr_assert_eq(tu_mix_layout(d, manifest), 0);
    return d;
}

static void open_input(const char *d, hb_mix_input *in) {
    char *sd = hb_path_join(d, "shards");
    hb_err e;
    cr_assert_eq(hb_mix_input_open(in, sd, NAMES, 4, &e), 0, "%s", e.reason);
    free(sd);
}

static size_t count_files(const char *dir, const char *suffix) {
    DIR *dd = opendir(dir);
    size_t n = 0;
    struct dirent *x;
    while (dd && (x = readdir(dd)))
        if (strlen(x->d_name) > strlen(suffix) && !strcmp(x->d_name + strlen(x->d_name) - strlen(suffix), suffix)) n++;
    if (dd) closedir(dd);
    return n;
}

Test(mix_inputs, lengths_match_decoder_and_cache_is_reused_and_rebuilt) {
    char *d = layout(1), *cache = hb_path_join(d, "cache");
    hb_mix_input in;
    hb_err e;
    open_input(d, &in);
    cr_assert_eq(in.n_shards, 7);
    cr_assert_eq(in.n_unused, 1);
    cr_assert_str_eq(in.unused[0], "unused");
    cr_assert_eq(hb_mix_input_lengths(&in, cache, 1, 2, &e), 0, "%s", e.reason);
    cr_assert_eq(in.scanned, 666);
    cr_assert_eq(count_files(cache, ".hblen"), 7);
    /* every length equals what the full decoder says */
    hb_arena a;
    hb_arena_init(&a, 0);
    for (size_t s = 0; s < 4; s++)
        for (uint64_t j = 0; j < in.sources[s].n; j++) {
            uint32_t sh;
            uint64_t rec;
            hb_mix_input_locate(&in, s, j, &sh, &rec);
            char *path = hb_path_join(in.dir, in.shards[sh].file);
            hb_shard *x;
            hb_sample smp;
            cr_assert_eq(hb_shard_open(&x, path, &e), 0);
            hb_arena_reset(&a);
            cr_assert_eq(hb_shard_get_sample(x, rec, &smp, &a, &e), 0);
            cr_assert_eq(hb_mix_input_len(&in, s, j, HB_MIX_TOKENS), smp.n_tokens);
            cr_assert_eq(hb_mix_input_len(&in, s, j, HB_MIX_SUPERVISED), smp.n_supervised);
            cr_assert_eq(hb_mix_input_len(&in, s, j, HB_MIX_IMAGE), smp.n_image_tokens);
            cr_assert_eq(hb_mix_input_len(&in, s, j, HB_MIX_SAMPLES), 1);
            hb_shard_close(x);
            free(path);
        }
    hb_arena_free(&a);
    hb_mix_input_free(&in);
    /* second time: all from the cache */
    open_input(d, &in);
    cr_assert_eq(hb_mix_input_lengths(&in, cache, 1, 1, &e), 0);
    cr_assert_eq(in.scanned, 0);
    char hex[17];
    hb_hash64_hex(in.shards[4].xxh3, hex); /* ocrvqa: 37 samples */
    uint64_t n4 = in.shards[4].n;
    hb_hash64_hex(in.shards[0].xxh3, hex);
    char name0[40], name4[40];
    snprintf(name0, sizeof name0, "%s.hblen", hex);
    hb_hash64_hex(in.shards[4].xxh3, hex);
    snprintf(name4, sizeof name4, "%s.hblen", hex);
    uint64_t n0 = in.shards[0].n;
    hb_mix_input_free(&in);
    /* a flipped byte in one cache file and a truncated other: both rebuilt, nothing else */
    char *p0 = hb_path_join(cache, name0), *p4 = hb_path_join(cache, name4);
    size_t len;
    uint8_t *b = tu_read(p0, &len);
    b[40] ^= 1;
    cr_assert_eq(tu_write(p0, b, len), 0);
    free(b);
    b = tu_read(p4, &len);
    cr_assert_eq(tu_write(p4, b, len - 3), 0);
    free(b);
    open_input(d, &in);
    cr_assert_eq(hb_mix_input_lengths(&in, cache, 1, 2, &e), 0);
    cr_assert_eq(in.scanned, n0 + n4);
    hb_mix_input_free(&in);
    open_input(d, &in); /* and the rebuilt files are good */
    cr_assert_eq(hb_mix_input_lengths(&in, cache, 1, 2, &e), 0);
    cr_assert_eq(in.scanned, 0);
    hb_mix_input_free(&in);
    /* write_cache = 0 (dry runs): reads, never writes */
    unlink(p0);
    open_input(d, &in);
    cr_assert_eq(hb_mix_input_lengths(&in, cache, 0, 2, &e), 0);
    cr_assert_eq(in.scanned, n0);
    cr_assert_eq(count_files(cache, ".hblen"), 6);
    hb_mix_input_free(&in);
    free(p0), free(p4), free(cache);
    tu_rmtree(d);
    free(d);
}

static hb_mix_result solve(const char *d, const char *name, const char *body, hb_mix_input *in, hb_mix_spec *spec) {
    hb_err e;
    cr_assert_eq(tu_mix_run(d, name, body, 2, 1, &e), 0, "%s", e.reason); /* dry run: everything checked */
    char file[64];
    snprintf(file, sizeof file, "%s.yaml", name);
    char *rp = hb_path_join(d, file);
    cr_assert_eq(hb_mix_spec_load(rp, spec, &e), 0);
    const char **names = calloc(spec->n, sizeof *names);
    for (size_t i = 0; i < spec->n; i++) names[i] = spec->want[i].name;
    cr_assert_eq(hb_mix_input_open(in, spec->shards_dir, names, spec->n, &e), 0);
    cr_assert_eq(hb_mix_input_lengths(in, NULL, 0, 2, &e), 0);
    hb_mix_result r;
    cr_assert_eq(hb_mix_solve(spec, in, &r, &e), 0, "%s", e.reason);
    free(names);
    free(rp);
    return r;
}

static void done(hb_mix_result *r, hb_mix_input *in, hb_mix_spec *s) {
    hb_mix_result_free(r);
    hb_mix_input_free(in);
    hb_mix_spec_free(s);
}

Test(mix_inputs, kinds_and_units) {
    char *d = layout(1);
    hb_mix_input in;
    hb_mix_spec s;
    hb_mix_result r = solve(d, "rep", "mix:\n  sources: {vqav2: {repeat: 0.5}, gqa: {repeat: 2.5}, ocrvqa: {repeat: 1}, "
                                       "textchat: {repeat: 3}}\n", &in, &s);
    uint64_t want_rep[] = {250, 300, 37, 27};
    for (int i = 0; i < 4; i++) cr_assert_eq(r.rows[i].samples, want_rep[i]);
    cr_assert_float_eq(r.rows[1].passes, 2.5, 1e-12);
    /* full passes count every token of the source once per pass */
    cr_assert_eq(r.rows[2].units[HB_MIX_TOKENS], in.sources[2].units[HB_MIX_TOKENS]);
    cr_assert_eq(r.rows[3].units[HB_MIX_TOKENS], 3 * in.sources[3].units[HB_MIX_TOKENS]);
    done(&r, &in, &s);

    r = solve(d, "cnt", "mix:\n  sources: {vqav2: {count: 7}, gqa: {count: 1000}, ocrvqa: {count: 0}, textchat: {count: 1}}\n",
              &in, &s);
    uint64_t want_cnt[] = {7, 1000, 0, 1};
    for (int i = 0; i < 4; i++) cr_assert_eq(r.rows[i].samples, want_cnt[i]);
    cr_assert_eq(r.samples, 1008);
    done(&r, &in, &s);

    r = solve(d, "size", "mix:\n  total: 1000\n  size_cap: 100\n  sources: {vqav2: {weight: size}, gqa: {weight: size}, "
                         "ocrvqa: {weight: size}, textchat: {weight: size}}\n", &in, &s);
    double sz[] = {100, 100, 37, 9};
    for (int i = 0; i < 4; i++) {
        cr_assert_float_eq(r.rows[i].target_share, sz[i] / 246, 1e-12);
        cr_assert_lt(llabs((long long)r.rows[i].samples - (long long)(1000 * sz[i] / 246)), 2);
    }
    done(&r, &in, &s);

    /* tokens: the realised total of each source is within one sample of its target (samples here are < 120 tokens) */
    r = solve(d, "tok", "mix:\n  unit: tokens\n  total: 50000\n  sources: {vqav2: {weight: 2}, gqa: {weight: 1}, "
                        "ocrvqa: {weight: 1}, textchat: {weight: 0}}\n", &in, &s);
    double tw[] = {0.5, 0.25, 0.25, 0};
    for (int i = 0; i < 4; i++)
        cr_assert_lt(fabs((double)r.rows[i].units[HB_MIX_TOKENS] - 50000 * tw[i]), 60.0, "source %d: %llu tokens", i,
                     (unsigned long long)r.rows[i].units[HB_MIX_TOKENS]);
    cr_assert_eq(r.rows[3].samples, 0);
    done(&r, &in, &s);

    /* supervised tokens over a fixed number of samples (steps x batch) */
    r = solve(d, "sup", "mix:\n  unit: supervised_tokens\n  steps: 50\n  batch_size: 20\n  sources: {vqav2: {weight: 1}, "
                        "gqa: {weight: 1}, ocrvqa: {weight: 1}, textchat: {weight: 1}}\n", &in, &s);
    cr_assert_eq(r.samples, 1000);
    for (int i = 0; i < 4; i++) cr_assert(fabs(r.rows[i].realised_share - 0.25) < 0.03, "share %f", r.rows[i].realised_share);
    done(&r, &in, &s);

    /* a count in image tokens */
    r = solve(d, "img", "mix:\n  unit: image_tokens\n  sources: {vqav2: {count: 4000}, gqa: {count: 8}, ocrvqa: {count: 0}, "
                        "textchat: {count: 0}}\n", &in, &s);
    cr_assert_eq(r.rows[0].samples, 500); /* 8 image tokens each */
    cr_assert_eq(r.rows[1].samples, 1);
    done(&r, &in, &s);
    tu_rmtree(d);
    free(d);
}

Test(mix_inputs, directory_without_manifest_gives_the_same_plan) {
    char *a = layout(1), *b = layout(0);
    hb_err e;
    const char *body = "mix:\n  total: 800\n  sources: {vqav2: {weight: 3}, gqa: {weight: 1}, textchat: {weight: 1}}\n";
    cr_assert_eq(tu_mix_run(a, "m", body, 2, 0, &e), 0, "%s", e.reason);
    cr_assert_eq(tu_mix_run(b, "m", body, 1, 0, &e), 0, "%s", e.reason);
    char *pa = tu_mix_plan_path(a, "m"), *pb = tu_mix_plan_path(b, "m");
    size_t na, nb;
    uint8_t *x = tu_read(pa, &na), *y = tu_read(pb, &nb);
    cr_assert(na == nb && !memcmp(x, y, na));
    free(x), free(y), free(pa), free(pb);
    tu_rmtree(a), tu_rmtree(b);
    free(a), free(b);
}

static void expect_fail(const char *d, const char *body, hb_code code, const char *needle) {
    hb_err e;
    hb_err_clear(&e);
    int got = tu_mix_run(d, "x", body, 2, 0, &e);
    cr_assert_eq(got, code, "got %s: %s", hb_code_name((hb_code)got), e.reason);
    cr_assert(strstr(e.reason, needle) || strstr(e.file, needle), "'%s' / '%s' lacks '%s'", e.file, e.reason, needle);
}

Test(mix_inputs, bad_inputs_write_nothing_and_keep_the_previous_plan) {
    char *d = layout(1);
    hb_err e;
    /* a dry run writes nothing at all */
    cr_assert_eq(tu_mix_run(d, "x", "mix:\n  total: 300\n  sources: {vqav2: {weight: 1}, gqa: {weight: 1}}\n", 2, 1, &e), 0);
    char *out = hb_path_join(d, "shards/mix-x");
    cr_assert(!hb_path_exists(out));
    cr_assert_eq(tu_mix_run(d, "x", "mix:\n  total: 300\n  sources: {vqav2: {weight: 1}, gqa: {weight: 1}}\n", 2, 0, &e), 0);
    char *plan = tu_mix_plan_path(d, "x");
    size_t n0, n;
    uint8_t *before = tu_read(plan, &n0);
    cr_assert_not_null(before);
    expect_fail(d, "mix:\n  total: 300\n  sources: {vqav2: {weight: 1}, nosuch: {weight: 1}}\n", HB_ENOTFOUND,
                "source 'nosuch' has no shards here (sources present: vqav2, gqa, ocrvqa, textchat, unused)");
    expect_fail(d, "mix:\n  total: 300\n  sources: {vqav2: {weight: -1}}\n", HB_EFORMAT, "is not allowed");
    expect_fail(d, "mix:\n  unit: image_tokens\n  total: 300\n  sources: {vqav2: {weight: 1}, textchat: {weight: 1}}\n",
                HB_EINVAL, "textchat: the source has no image_tokens");
    /* a failure found after reading every length still writes nothing, not even the lengths cache */
    cr_assert_neq(tu_mix_run(d, "fresh", "mix:\n  unit: image_tokens\n  total: 9\n  sources: {textchat: {weight: 1}}\n", 2,
                             0, &e), 0);
    char *fresh = hb_path_join(d, "shards/mix-fresh");
    cr_assert(!hb_path_exists(fresh), "a failed run created %s", fresh);
    free(fresh);
    char *sd = hb_path_join(d, "shards"), *victim = hb_path_join(sd, "gqa-00001.hbs"), *moved = hb_path_join(d, "moved.hbs");
    cr_assert_eq(rename(victim, moved), 0);
    expect_fail(d, "mix:\n  total: 300\n  sources: {vqav2: {weight: 1}, gqa: {weight: 1}}\n", HB_ENOTFOUND, "gqa-00001.hbs");
    cr_assert_eq(rename(moved, victim), 0);
    /* a shard rewritten after the manifest */
    uint8_t *orig = tu_read(victim, &n);
    uint32_t lens[1][3] = {{30, 5, 8}};
    cr_assert_eq(tu_mix_shard(sd, "gqa-00001.hbs", "gqa", 0, 1, (const uint32_t (*)[3])lens, NULL), 0);
    expect_fail(d, "mix:\n  total: 300\n  sources: {vqav2: {weight: 1}, gqa: {weight: 1}}\n", HB_ECHECKSUM, "rerun hb-prep");
    cr_assert_eq(tu_write(victim, orig, n), 0);
    free(orig);
    /* samples whose source disagrees with the manifest */
    hb_manifest m;
    cr_assert_eq(hb_manifest_load(&m, sd, &e), 0);
    uint32_t l2[2][3] = {{30, 5, 8}, {31, 6, 8}};
    cr_assert_eq(tu_mix_shard(sd, "mislabelled.hbs", "vqav2", 0, 2, (const uint32_t (*)[3])l2, &m), 0);
    free(m.shards[m.n_shards - 1].source);
    m.shards[m.n_shards - 1].source = hb_xstrdup("ocrvqa");
    cr_assert_eq(hb_manifest_write(&m, sd, &e), 0);
    hb_manifest_free(&m);
    expect_fail(d, "mix:\n  total: 300\n  sources: {vqav2: {weight: 1}, ocrvqa: {weight: 1}}\n", HB_EFORMAT,
                "sample of source 'vqav2' in a shard of source 'ocrvqa'");
    uint8_t *after = tu_read(plan, &n);
    cr_assert(n == n0 && !memcmp(before, after, n), "the previous plan changed");
    free(before), free(after);
    free(sd), free(victim), free(moved), free(out), free(plan);
    tu_rmtree(d);
    free(d);
}

Test(mix_inputs, stale_cache_files_are_pruned) {
    char *d = layout(1);
    hb_err e;
    cr_assert_eq(tu_mix_run(d, "p", "mix:\n  total: 100\n  sources: {vqav2: {weight: 1}, gqa: {weight: 1}}\n", 2, 0, &e), 0);
    char *cache = hb_path_join(d, "shards/mix-p/lengths");
    cr_assert_eq(count_files(cache, ".hblen"), 5);
    cr_assert_eq(tu_mix_run(d, "p", "mix:\n  total: 100\n  sources: {gqa: {weight: 1}}\n", 2, 0, &e), 0);
    cr_assert_eq(count_files(cache, ".hblen"), 2);
    free(cache);
    tu_rmtree(d);
    free(d);
}

/* The length reader walks each record's layout itself: every truncation of a valid record, a trailing byte and
 * unknown flags must fail with the shard and record named, like the full decoder does. */
static int scan_one(const char *sd, const uint8_t *rec, size_t len, hb_err *e) {
    char *path = hb_path_join(sd, "a-00000.hbs");
    hb_shard_writer *w;
    hb_shard_info info;
    cr_assert_eq(hb_shard_writer_open(&w, path, HB_SCHEMA_SAMPLE, NULL, e), 0);
    cr_assert_eq(hb_shard_writer_add(w, rec, len, e), 0);
    cr_assert_eq(hb_shard_writer_close(w, &info, e), 0);
    hb_manifest m = {0};
    m.tool = hb_xstrdup("test");
    m.recipe_hash = hb_xstrdup("");
    hb_manifest_shard sh = {"a-00000.hbs", "a", HB_SCHEMA_SAMPLE, 1, 0, 0, 0, info.bytes, info.xxh3};
    hb_manifest_add(&m, &sh);
    cr_assert_eq(hb_manifest_write(&m, sd, e), 0);
    hb_manifest_free(&m);
    const char *names[1] = {"a"};
    hb_mix_input in;
    int code = hb_mix_input_open(&in, sd, names, 1, e);
    cr_assert_eq(code, 0, "%s", e->reason);
    code = hb_mix_input_lengths(&in, NULL, 0, 1, e);
    hb_mix_input_free(&in);
    free(path);
    return code;
}

Test(mix_inputs, malformed_records_are_reported) {
    char *d = tu_mkdtemp(), *sd = hb_path_join(d, "shards");
    hb_err e;
    cr_assert_eq(hb_mkdir_p(sd, &e), 0);
    hb_arena a;
    hb_arena_init(&a, 0);
    hb_sample s;
    tu_mix_sample(&a, "a", 3, 12, 2, 4, &s);
    hb_buf b = {0};
    hb_sample_encode(&s, &b);
    hb_sample dec;
    for (size_t cut = 0; cut < b.len; cut++) {
        cr_assert_neq(hb_sample_decode(b.data, cut, &dec, &a, &e), 0); /* the decoder agrees it is malformed */
        int code = scan_one(sd, b.data, cut, &e);
        cr_assert_eq(code, HB_EFORMAT, "cut at %zu: %s", cut, e.reason);
        cr_assert_eq(e.record, 0);
        cr_assert(strstr(e.file, "a-00000.hbs"));
    }
    hb_buf_putc(&b, 0);
    cr_assert_eq(scan_one(sd, b.data, b.len, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "trailing bytes"), "%s", e.reason);
    b.len--;
    b.data[0] = 1;
    cr_assert_eq(scan_one(sd, b.data, b.len, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "flags"), "%s", e.reason);
    b.data[0] = 0; /* intact again: the manifest's zero totals now disagree with the record */
    cr_assert_eq(scan_one(sd, b.data, b.len, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "rerun hb-prep"), "%s", e.reason);
    hb_buf_free(&b);
    hb_arena_free(&a);
    free(sd);
    tu_rmtree(d);
    free(d);
}

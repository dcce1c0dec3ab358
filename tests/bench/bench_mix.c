/* Benchmark driver for hb-mix planning (compiled and run by tests/bench/bench_mix.sh against build/libhb.a).
 *   bench_mix plan N JOBS UNIT OUT   plan N samples over 13 synthetic sources (sizes of the compiled Honeybee FT
 *                                    sources, lengths 144 image + 20..520 text tokens), weights of ft_default.yaml,
 *                                    batch 128; writes OUT ("-": plan without writing); prints a line of figures
 *   bench_mix scan N DIR             write N samples in shards to DIR, then time a cold lengths scan (1 thread)
 * Peak memory is getrusage's ru_maxrss of this process. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/core.h"
#include "mix/mix.h"
#include "shard/shard.h"

static const char *const NAMES[13] = {"coyo", "vqav2", "gqa", "ocrvqa", "vsr", "scienceqa", "aokvqa", "refcoco",
                                      "refcocoplus", "refcocog", "vg", "llava150k", "sharegpt"};
/* compiled samples per source (multi-turn grouping for VQAv2/GQA/OCRVQA; COYO as a 1M-pair subset) */
static const uint64_t SIZES[13] = {1000000, 82783, 72140, 207572, 7680, 12726, 17056,
                                   120624, 120191, 80512, 5400000, 157712, 40688};
static const double WEIGHTS[13] = {0.077, 0.103, 0.103, 0.051, 0.026, 0.051, 0.103,
                                   0.103, 0.103, 0.103, 0.051, 0.103, 0.026};

static double peak_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static int plan(uint64_t N, int jobs, const char *unit, const char *out) {
    hb_mix_input in = {0};
    uint64_t x = 88172645463325252ULL, total = 0;
    for (int s = 0; s < 13; s++) {
        uint8_t *lens = hb_xmalloc(SIZES[s] * HB_MIX_LEN_BYTES);
        for (uint64_t k = 0; k < SIZES[s]; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift: synthetic lengths */
            uint32_t img = strcmp(NAMES[s], "sharegpt") ? 144 : 0, text = 20 + (uint32_t)(x % 500);
            uint32_t v[3] = {1 + img + text, text / 3, img};
            for (int u = 0; u < 3; u++)
                for (int b = 0; b < 4; b++) lens[k * HB_MIX_LEN_BYTES + 4 * u + b] = (uint8_t)(v[u] >> 8 * b);
        }
        char file[64];
        snprintf(file, sizeof file, "%s-00000.hbs", NAMES[s]);
        hb_mix_input_add(&in, NAMES[s], file, SIZES[s], (uint64_t)s + 1, lens);
        free(lens);
        total += SIZES[s];
    }
    hb_mix_spec spec = {0};
    spec.recipe = "bench";
    spec.name = "bench";
    spec.seed = 42;
    spec.unit = !strcmp(unit, "tokens") ? HB_MIX_TOKENS : HB_MIX_SAMPLES;
    spec.kind = HB_MIX_WEIGHT;
    spec.batch = 128;
    spec.n = 13;
    spec.want = hb_xcalloc(13, sizeof *spec.want);
    for (int s = 0; s < 13; s++) spec.want[s] = (hb_mix_want){(char *)NAMES[s], WEIGHTS[s], 0};
    if (spec.unit == HB_MIX_SAMPLES) spec.total = N;
    else { /* a token budget that yields about N samples */
        uint64_t tok = 0;
        for (int s = 0; s < 13; s++) tok += in.sources[s].units[HB_MIX_TOKENS];
        spec.total = (uint64_t)((double)N * (double)tok / (double)total);
    }
    double rss0 = peak_mib();
    hb_err e;
    hb_mix_result res;
    double t0 = hb_now();
    if (hb_mix_solve(&spec, &in, &res, &e)) {
        fprintf(stderr, "solve: %s\n", e.reason);
        return 1;
    }
    double t1 = hb_now();
    if (hb_mix_generate(&spec, &in, &res, strcmp(out, "-") ? out : NULL, "..", jobs, &e)) {
        fprintf(stderr, "generate: %s\n", e.reason);
        return 1;
    }
    double t2 = hb_now();
    printf("hb-mix plan: %llu samples (unit %s) over 13 sources (%llu samples), -j%d: solve %.2f s, generate+write "
           "%.2f s, total %.2f s; peak RSS %.0f MiB (synthetic source lengths alone %.0f MiB); max prefix deviation "
           "%.3f\n",
           (unsigned long long)res.samples, unit, (unsigned long long)total, jobs, t1 - t0, t2 - t1, t2 - t0,
           peak_mib(), rss0, floor(res.max_prefix_dev * 1000) / 1000);
    hb_mix_result_free(&res);
    free(spec.want);
    hb_mix_input_free(&in);
    return 0;
}

static int scan(uint64_t N, const char *dir) {
    hb_err e;
    hb_manifest m = {0};
    m.tool = hb_xstrdup("bench");
    m.recipe_hash = hb_xstrdup("");
    hb_arena a;
    hb_arena_init(&a, 0);
    int32_t tok[700];
    uint8_t mask[700];
    hb_turn turn = {HB_ROLE_HUMAN, 40, "What is shown in the image? Answer briefly."};
    for (int sh = 0; sh < 4; sh++) {
        char file[64];
        snprintf(file, sizeof file, "vqav2-%05d.hbs", sh);
        char *path = hb_path_join(dir, file);
        hb_sample_writer w;
        if (hb_sample_writer_open(&w, path, NULL, &e)) return 1;
        for (uint64_t k = sh * N / 4; k < (sh + 1) * N / 4; k++) {
            uint32_t n = 160 + (uint32_t)(k * 2654435761u % 500);
            for (uint32_t i = 0; i < n; i++) tok[i] = i == 0 ? 1 : i <= 144 ? -1 : (int32_t)(100 + (k * i) % 30000), mask[i] = i > n - n / 4;
            hb_arena_reset(&a);
            hb_sample s = {0};
            s.id = hb_arena_printf(&a, "vqav2/%llu", (unsigned long long)k);
            s.source = "vqav2";
            s.source_file = "q.json";
            s.choices = "{}";
            s.n_turns = 1;
            s.turns = &turn;
            s.n_tokens = n;
            s.tokens = tok;
            s.loss_mask = mask;
            if (hb_sample_writer_add(&w, &s, &e)) return 1;
        }
        hb_sample_totals t = w.totals;
        hb_shard_info info;
        if (hb_sample_writer_close(&w, &info, &e)) return 1;
        hb_manifest_shard ms = {file, "vqav2", HB_SCHEMA_SAMPLE, t.samples, t.tokens, t.supervised_tokens,
                                t.image_tokens, info.bytes, info.xxh3};
        hb_manifest_add(&m, &ms);
        free(path);
    }
    if (hb_manifest_write(&m, dir, &e)) return 1;
    hb_manifest_free(&m);
    hb_arena_free(&a);
    const char *names[1] = {"vqav2"};
    hb_mix_input in;
    if (hb_mix_input_open(&in, dir, names, 1, &e)) return 1;
    char *cache = hb_path_join(dir, "lengths");
    double t0 = hb_now();
    if (hb_mix_input_lengths(&in, cache, 1, 1, &e)) {
        fprintf(stderr, "scan: %s\n", e.reason);
        return 1;
    }
    double t1 = hb_now();
    hb_mix_input_free(&in);
    if (hb_mix_input_open(&in, dir, names, 1, &e) || hb_mix_input_lengths(&in, cache, 1, 1, &e)) return 1;
    double t2 = hb_now();
    printf("hb-mix lengths: cold scan of %llu samples %.2f s (%.0f samples/s, 1 thread); cached reload %.3f s\n",
           (unsigned long long)N, t1 - t0, (double)N / (t1 - t0), t2 - t1);
    hb_mix_input_free(&in);
    free(cache);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 6 && !strcmp(argv[1], "plan")) return plan(strtoull(argv[2], NULL, 10), atoi(argv[3]), argv[4], argv[5]);
    if (argc == 4 && !strcmp(argv[1], "scan")) return scan(strtoull(argv[2], NULL, 10), argv[3]);
    fprintf(stderr, "usage: bench_mix plan N JOBS samples|tokens OUT | bench_mix scan N DIR\n");
    return 2;
}

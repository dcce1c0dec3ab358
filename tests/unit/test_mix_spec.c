/* lib/mix: the recipe's mix section — a full spec, defaults, and every malformed or contradictory input failing with
 * a message that names the key. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/testutil.h"
#include "mix/mix.h"
#include "recipe/yaml.h"

static int parse(const char *text, hb_mix_spec *s, hb_err *e) {
    cJSON *root = NULL;
    int code = hb_yaml_parse(text, strlen(text), "r.yaml", &root, e);
    if (code) return code;
    code = hb_mix_spec_parse(root, "recipes/r.yaml", "recipes", s, e);
    cJSON_Delete(root);
    return code;
}

static void expect_error(const char *text, const char *needle) {
    hb_mix_spec s;
    hb_err e;
    hb_err_clear(&e);
    int code = parse(text, &s, &e);
    cr_assert_neq(code, 0, "accepted: %s", text);
    cr_assert(strstr(e.reason, needle), "error '%s' does not mention '%s'", e.reason, needle);
    cr_assert_str_eq(e.file, code == HB_EFORMAT && strstr(e.reason, "line") ? "r.yaml" : "recipes/r.yaml");
}

Test(mix_spec, full_spec) {
    hb_mix_spec s;
    hb_err e;
    const char *y = "name: ft\nseed: 42\nmax_length: 1023\noutput: ../out/shards\n"
                    "sources: {vqav2: {dataset: vqav2}, gqa: {dataset: gqa}, sharegpt: {dataset: sharegpt}}\n"
                    "mix:\n  unit: supervised_tokens\n  steps: 100\n  batch_size: 128\n  balance: prefix\n"
                    "  pack: {max_tokens: 2048, window: 3}\n  output: plans/ft\n  seed: 9\n"
                    "  sources:\n    gqa: {weight: 0.2}\n    vqav2: {weight: 0.7}\n    sharegpt: {weight: 0.1}\n";
    cr_assert_eq(parse(y, &s, &e), 0, "%s", e.reason);
    cr_assert_str_eq(s.name, "ft");
    cr_assert_eq(s.seed, 9);
    cr_assert_eq(s.unit, HB_MIX_SUPERVISED);
    cr_assert_eq(s.kind, HB_MIX_WEIGHT);
    cr_assert_eq(s.total, 12800);
    cr_assert_eq(s.steps, 100);
    cr_assert_eq(s.batch, 128);
    cr_assert_eq(s.pack, 1);
    cr_assert_eq(s.pack_tokens, 2048);
    cr_assert_eq(s.pack_window, 3);
    cr_assert_eq(s.max_length, 1023);
    cr_assert_str_eq(s.shards_dir, "out/shards");
    cr_assert_str_eq(s.out_dir, "recipes/plans/ft");
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.want[0].name, "gqa"); /* recipe order is the plan's source order */
    cr_assert_str_eq(s.want[2].name, "sharegpt");
    cr_assert_float_eq(s.want[1].value, 0.7, 1e-12);
    cr_assert_eq(s.n_known, 3);
    hb_mix_spec_free(&s);
}

Test(mix_spec, defaults) {
    hb_mix_spec s;
    hb_err e;
    cr_assert_eq(parse("max_length: 1023\nmix:\n  pack: true\n  sources:\n    a: {repeat: 2}\n    b: {repeat: 0.5}\n", &s, &e), 0,
                 "%s", e.reason);
    cr_assert_str_eq(s.name, "r"); /* from the file name */
    cr_assert_eq(s.seed, 0);
    cr_assert_eq(s.unit, HB_MIX_SAMPLES);
    cr_assert_eq(s.kind, HB_MIX_REPEAT);
    cr_assert_eq(s.balance, HB_MIX_BALANCE_PREFIX);
    cr_assert_eq(s.pack_tokens, 1024); /* max_length + BOS */
    cr_assert_eq(s.pack_window, 8);
    cr_assert_null(s.shards_dir);
    cr_assert_null(s.out_dir);
    cr_assert_eq(s.n_known, 0);
    hb_mix_spec_free(&s);
    cr_assert_eq(parse("mix:\n  size_cap: 100000\n  total: 10\n  sources: {a: {weight: size}, b: {weight: size}}\n", &s, &e), 0,
                 "%s", e.reason);
    cr_assert(s.want[0].by_size && s.want[1].by_size);
    cr_assert_eq(s.size_cap, 100000);
    hb_mix_spec_free(&s);
    cr_assert_eq(parse("mix:\n  balance: batch\n  batch_size: 8\n  sources: {a: {count: 5}, b: {count: 0}}\n", &s, &e), 0,
                 "%s", e.reason);
    cr_assert_eq(s.kind, HB_MIX_COUNT);
    cr_assert_eq(s.balance, HB_MIX_BALANCE_BATCH);
    hb_mix_spec_free(&s);
}

#define SRC "  sources: {a: {weight: 1}}\n"

Test(mix_spec, malformed_and_contradictory) {
    expect_error("mix: [1, 2\n", "line");                          /* YAML syntax */
    expect_error("- 1\n- 2\n", "a recipe is a mapping");
    expect_error("name: x\n", "no mix section");
    expect_error("mix: 3\n", "expected a mapping");
    expect_error("mix:\n  total: 5\n  wieghts: 1\n" SRC, "mix.wieghts: unknown key");
    expect_error("mix:\n  total: 5\n", "mix.sources");
    expect_error("mix:\n  total: 5\n  sources: {}\n", "mix.sources");
    expect_error("mix:\n  total: 5\n  sources: {a: 0.5}\n", "mix.sources.a: expected a mapping");
    expect_error("mix:\n  total: 5\n  sources: {a: {wieght: 1}}\n", "mix.sources.a.wieght: unknown key");
    expect_error("mix:\n  total: 5\n  sources: {a: {}}\n", "give one of");
    expect_error("mix:\n  total: 5\n  sources: {a: {weight: 1, repeat: 2}}\n", "exactly one");
    expect_error("mix:\n  total: 5\n  sources: {a: {weight: -0.1}}\n", "-0.1 is not allowed");
    expect_error("mix:\n  total: 5\n  sources: {a: {weight: .nan}}\n", "is not allowed");
    expect_error("mix:\n  total: 5\n  sources: {a: {weight: .inf}}\n", "is not allowed");
    expect_error("mix:\n  total: 5\n  sources: {a: {weight: heavy}}\n", "expected a number");
    expect_error("mix:\n  total: 5\n  sources: {a: {weight: 0}, b: {weight: 0}}\n", "every weight is zero");
    expect_error("mix:\n  sources: {a: {repeat: 0}}\n", "every repeat is zero");
    expect_error("mix:\n  total: 5\n  sources: {a: {weight: 1}, b: {repeat: 2}}\n", "a uses weight but b uses repeat");
    expect_error("mix:\n  sources: {a: {count: 2.5}}\n", "not a whole number");
    expect_error("mix:\n  total: 5\n  sources: {a: {weight: size}, b: {weight: 1}}\n", "cannot be mixed");
    expect_error("mix:\n  total: 5\n  size_cap: 10\n" SRC, "size_cap");
    expect_error("mix:\n  unit: bytes\n  total: 5\n" SRC, "mix.unit: 'bytes'");
    expect_error("mix:\n  balance: exact\n  total: 5\n" SRC, "mix.balance: 'exact'");
    expect_error("mix:\n" SRC, "need the stream length");
    expect_error("mix:\n  total: 5\n  steps: 4\n  batch_size: 2\n" SRC, "not both");
    expect_error("mix:\n  steps: 4\n" SRC, "needs batch_size");
    expect_error("mix:\n  total: 0\n" SRC, "positive integer");
    expect_error("mix:\n  total: -3\n" SRC, "positive integer");
    expect_error("mix:\n  total: 2.5\n" SRC, "expected an integer");
    expect_error("mix:\n  total: 5\n  sources: {a: {repeat: 1}}\n", "only apply to weights");
    expect_error("mix:\n  balance: batch\n  total: 5\n" SRC, "batch needs batch_size");
    expect_error("max_length: 9\nmix:\n  balance: batch\n  batch_size: 4\n  pack: true\n  total: 5\n" SRC, "cannot be combined");
    expect_error("mix:\n  pack: true\n  total: 5\n" SRC, "needs max_tokens");
    expect_error("mix:\n  pack: {max_tokens: 64, spill: 1}\n  total: 5\n" SRC, "mix.pack.spill: unknown key");
    expect_error("mix:\n  pack: yes please\n  total: 5\n" SRC, "mix.pack");
    expect_error("seed: -1\nmix:\n  total: 5\n" SRC, "non-negative");
    expect_error("mix:\n  seed: -2\n  total: 5\n" SRC, "non-negative");
    expect_error("seed: abc\nmix:\n  total: 5\n" SRC, "seed: expected an integer");
    expect_error("sources: {vqav2: {}, gqa: {}}\nmix:\n  total: 5\n  sources: {vqa: {weight: 1}}\n",
                 "mix.sources.vqa: unknown source (the recipe's sources are: vqav2, gqa)");
}

Test(mix_spec, names) {
    cr_assert_str_eq(hb_mix_unit_name(HB_MIX_IMAGE), "image_tokens");
    cr_assert_str_eq(hb_mix_kind_name(HB_MIX_COUNT), "count");
    hb_mix_spec s;
    hb_err e;
    cr_assert_neq(hb_mix_spec_load("/nonexistent/r.yaml", &s, &e), 0);
    cr_assert_str_eq(e.file, "/nonexistent/r.yaml");
}

/* The shipped recipes parse, and hold the released weights (spec-data.md §1.1, normalised by 1.003), Table 5a's
 * strategies and PT's 1 : 1. */
static void load_recipe(const char *rel, hb_mix_spec *s) {
    char *path = tu_repo(rel);
    hb_err e;
    cr_assert_eq(hb_mix_spec_load(path, s, &e), 0, "%s: %s", rel, e.reason);
    free(path);
}

Test(mix_spec, shipped_recipes) {
    static const char *const ft[] = {"coyo", "vqav2", "gqa", "ocrvqa", "vsr", "scienceqa", "aokvqa", "refcoco",
                                     "refcocoplus", "refcocog", "vg", "llava150k", "sharegpt"};
    static const double norm[] = {0.0768, 0.1027, 0.1027, 0.0509, 0.0259, 0.0509, 0.1027,
                                  0.1027, 0.1027, 0.1027, 0.0509, 0.1027, 0.0259};
    static const char *const same[] = {"recipes/honeybee-ft.yaml", "recipes/table5a-tuned.yaml"};
    for (int r = 0; r < 2; r++) {
        hb_mix_spec s;
        load_recipe(same[r], &s);
        cr_assert_eq(s.n, 13);
        cr_assert_eq(s.n_known, 13);
        cr_assert_eq(s.max_length, 1023);
        cr_assert_eq(s.total, 4000 * 128);
        double sum = 0;
        for (size_t i = 0; i < 13; i++) sum += s.want[i].value;
        cr_assert_float_eq(sum, 1.003, 1e-9);
        for (size_t i = 0; i < 13; i++) {
            cr_assert_str_eq(s.want[i].name, ft[i]);
            cr_assert_float_eq(s.want[i].value / sum, norm[i], 6e-5, "%s", ft[i]);
        }
        hb_mix_spec_free(&s);
    }
    hb_mix_spec s;
    load_recipe("recipes/table5a-per-dataset.yaml", &s);
    for (size_t i = 0; i < 13; i++) cr_assert_float_eq(s.want[i].value, 1.0, 0);
    hb_mix_spec_free(&s);
    load_recipe("recipes/table5a-per-task.yaml", &s);
    double task[5] = {0};
    for (size_t i = 0; i < 13; i++) task[i == 0 ? 0 : i <= 4 ? 1 : i <= 6 ? 2 : i <= 10 ? 3 : 4] += s.want[i].value;
    for (int t = 0; t < 5; t++) cr_assert_float_eq(task[t], 0.2, 1e-9, "task %d", t);
    hb_mix_spec_free(&s);
    load_recipe("recipes/table5a-per-sample-100k.yaml", &s);
    cr_assert_eq(s.size_cap, 100000);
    for (size_t i = 0; i < 13; i++) cr_assert(s.want[i].by_size);
    hb_mix_spec_free(&s);
    load_recipe("recipes/honeybee-pt.yaml", &s);
    cr_assert_eq(s.n, 2);
    cr_assert_eq(s.max_length, 1024);
    cr_assert_eq(s.total, 50000ULL * 256);
    cr_assert_float_eq(s.want[0].value, s.want[1].value, 0);
    hb_mix_spec_free(&s);
}

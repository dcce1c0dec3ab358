/* lib/text/template: the shipped sets (honeybee string for string, the ablation sets' documented structure), lookup
 * order, placeholder compilation, malformed files and lint. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/testutil.h"
#include "text/template.h"

static hb_template_set *load_set(const char *rel) {
    char *p = tu_repo(rel);
    hb_template_set *ts;
    hb_err e;
    cr_assert_eq(hb_template_load(p, &ts, &e), 0, "%s: %s", p, e.reason);
    free(p);
    return ts;
}

static hb_template_set *parse_ok(const char *y) {
    hb_template_set *ts;
    hb_err e;
    cr_assert_eq(hb_template_parse(y, strlen(y), "t.yaml", &ts, &e), 0, "%s", e.reason);
    return ts;
}

#define HEAD                                                                                                          \
    "system: \"S.\"\nconversation: {system: \"L.\", image_markers: [\"<image>\\n\"]}\n"

/* ---- honeybee: every official string (spec-data.md §2.4) ---- */
static const char *const ANSWER_SHORT = "Answer the question using a single word or phrase. ";
static const char *const ANSWER_MC = "Answer with the option's letter from the given choices directly. ";
static const char *const REC = "Provide the bounding box coordinate of the region this sentence describes. {phrase}";

static void expect_pattern(const hb_template_set *ts, const char *key, uint32_t i, const char *instruction,
                           const char *input, const char *target) {
    const hb_pattern_key *k = hb_template_lookup(ts, key);
    cr_assert_not_null(k, "pattern key %s", key);
    cr_assert_gt(k->n_patterns, i, "%s has %u patterns", key, k->n_patterns);
    const hb_pattern *p = &k->patterns[i];
    cr_assert_str_eq(p->instruction.src, instruction, "%s[%u] instruction", key, i);
    cr_assert_str_eq(p->input.src, input, "%s[%u] input", key, i);
    cr_assert_str_eq(p->target.src, target, "%s[%u] target", key, i);
}

static char *cat(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%s%s", a, b);
    return s;
}

Test(template, honeybee_reproduces_every_official_string) {
    hb_template_set *ts = load_set("templates/honeybee.yaml");
    cr_assert_str_eq(hb_template_system(ts), "The following is a conversation between a curious human and AI "
                                             "assistant.");
    cr_assert_str_eq(hb_template_conv_system(ts),
                     "The following is a conversation between a curious human and AI assistant. The assistant gives "
                     "helpful, detailed, and polite answers to the user's questions.");
    cr_assert_eq(hb_template_n_markers(ts), 2);
    cr_assert_str_eq(hb_template_marker(ts, 0), "<image>\n");
    cr_assert_str_eq(hb_template_marker(ts, 1), "\n<image>");
    char *q = cat(ANSWER_SHORT, "{question}");
    char *vqao = cat(ANSWER_MC, "{question}\nThere are several options:\n{option}\n");
    char *sqa = cat(ANSWER_MC, "{question}\nContext: {context}\nThere are several options:\n{option}\n");
    char *vsr = cat(ANSWER_SHORT, "{question_interro} Please answer yes or no.");
    char *mmb = cat(ANSWER_MC, "{question}");
    expect_pattern(ts, "captioning", 0, "[NO_PROMPT]", "", "{caption}");
    cr_assert(hb_template_lookup(ts, "captioning")->patterns[0].no_prompt);
    expect_pattern(ts, "vqa", 0, "", q, "{answer}");
    expect_pattern(ts, "gqa", 0, "", q, "{answer}");
    expect_pattern(ts, "vqa-o", 0, "", vqao, "{answer}");
    expect_pattern(ts, "sqa", 0, "", sqa, "{answer}");
    expect_pattern(ts, "vsr", 0, "", vsr, "{answer}");
    expect_pattern(ts, "kvqa", 0, "", q, "{answer}");
    expect_pattern(ts, "loc", 0, "", REC, "{bbox}");
    expect_pattern(ts, "loc", 1, "", "Provide a short description for this region. {bbox}", "{phrase}");
    expect_pattern(ts, "refcoco", 0, "", REC, "{bbox}");
    expect_pattern(ts, "refcoco", 1, "",
                   "Provide a description for the region {bbox}, utilizing positional words to refer to objects. "
                   "Example: 'The large blue teddy bear next to the red balloon'",
                   "{phrase}");
    expect_pattern(ts, "refcocop", 0, "", REC, "{bbox}");
    expect_pattern(ts, "refcocop", 1, "",
                   "Provide a description for the region {bbox}, focusing on the appearance of objects without using "
                   "positional words. Example: 'The large blue teddy bear holding a red balloon.'",
                   "{phrase}");
    expect_pattern(ts, "refcocog", 0, "", REC, "{bbox}");
    expect_pattern(ts, "refcocog", 1, "",
                   "Provide a description for the region {bbox}, using detailed and descriptive expressions to refer "
                   "to objects. Example: 'The large blue teddy bear holding a red balloon with a joyful expression.'",
                   "{phrase}");
    expect_pattern(ts, "mme", 0, "", q, "");
    expect_pattern(ts, "mmb", 0, "", mmb, "");
    expect_pattern(ts, "eval-vqa", 0, "", q, "");
    expect_pattern(ts, "eval-sqa", 0, "", sqa, "");
    cr_assert_not(hb_template_lookup(ts, "eval-sqa")->patterns[0].options.shuffle, "eval options keep their order");
    expect_pattern(ts, "eval-refexploc", 0, "", REC, "");
    expect_pattern(ts, "eval-vsr", 0, "", vsr, "");
    /* the pattern map of dev.py, and the keys reached by their own name */
    static const char *const map[][2] = {
        {"vqa", "vqa"},          {"vgqa", "vqa"},         {"ocrvqa", "vqa"},         {"okvqa", "vqa"},
        {"aokvqa", "vqa-o"},     {"vsr", "vsr"},          {"kvqa", "kvqa"},          {"vgloc", "loc"},
        {"refexploc", "loc"},    {"coyo100m", "captioning"}, {"blip", "captioning"}, {"textcaps", "captioning"},
        {"gqa", "gqa"},          {"sqa", "sqa"},          {"refcoco", "refcoco"},    {"refcocop", "refcocop"},
        {"refcocog", "refcocog"}, {"mme", "mme"},         {"mmb", "mmb"},            {"seed", "mmb"},
        {"pope", "eval-vqa"},    {"refcoco+", "refcocop"}, {"vqav2", "vqa"},         {"scienceqa", "sqa"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        const hb_pattern_key *k = hb_template_lookup(ts, map[i][0]);
        cr_assert_not_null(k, "%s", map[i][0]);
        cr_assert_str_eq(k->key, map[i][1], "%s", map[i][0]);
    }
    cr_assert_null(hb_template_lookup(ts, "llava150k"), "conversations have no pattern");
    cr_assert_null(hb_template_lookup(ts, "nonesuch"));
    /* the option format of ft_default.yaml */
    const hb_optfmt *o = &hb_template_lookup(ts, "aokvqa")->patterns[0].options;
    cr_assert(o->shuffle && !o->random_index && o->icase == HB_IDX_UPPER && o->decor == HB_IDX_DOT && !o->answer_text);
    free(q), free(vqao), free(sqa), free(vsr), free(mmb);
    hb_template_free(ts);
}

Test(template, lookup_prefers_the_datasets_map_over_a_key_of_the_same_name) {
    hb_template_set *ts = parse_ok(HEAD "patterns:\n  a: [{input: \"A {question}\", target: \"{answer}\"}]\n"
                                        "  b: [{input: \"B {question}\", target: \"{answer}\"}]\n"
                                        "datasets: {a: b, x: a}\n");
    cr_assert_str_eq(hb_template_lookup(ts, "a")->key, "b");
    cr_assert_str_eq(hb_template_lookup(ts, "b")->key, "b");
    cr_assert_str_eq(hb_template_lookup(ts, "x")->key, "a");
    cr_assert_null(hb_template_lookup(ts, "y"));
    cr_assert_str_eq(hb_template_name(ts), "t", "name defaults to the file's stem");
    hb_template_free(ts);
}

Test(template, placeholders_compile_with_python_format_escapes) {
    hb_template_set *ts = parse_ok(HEAD "patterns:\n  k: [{instruction: \"{x} {{\", input: \"a{{b}}c{question}d}}\","
                                        " target: \"{answer}\"}]\n");
    const hb_pattern *p = &hb_template_key(ts, 0)->patterns[0];
    cr_assert_eq(p->input.n_segs, 3);
    cr_assert(!p->input.segs[0].is_field && p->input.segs[0].len == 5 && !memcmp(p->input.segs[0].text, "a{b}c", 5));
    cr_assert(p->input.segs[1].is_field && p->input.segs[1].len == 8 && !memcmp(p->input.segs[1].text, "question", 8));
    cr_assert(!p->input.segs[2].is_field && p->input.segs[2].len == 2 && !memcmp(p->input.segs[2].text, "d}", 2));
    /* the instruction is never formatted (Honeybee joins it to the system line as written) */
    cr_assert_eq(p->instruction.n_segs, 1);
    cr_assert(!p->instruction.segs[0].is_field);
    cr_assert_eq(p->instruction.segs[0].len, 6);
    hb_template_free(ts);
}

/* ---- the ablation sets ---- */
static const char *const QA_KEYS[] = {"vqav2", "gqa", "ocrvqa", "vsr", "sqa", "aokvqa"};
static const char *const REC_KEYS[] = {"refcoco", "refcocop", "refcocog", "vgloc"};

static int same_pattern(const hb_pattern *a, const hb_pattern *b) {
    return !strcmp(a->instruction.src, b->instruction.src) && !strcmp(a->input.src, b->input.src) &&
           !strcmp(a->target.src, b->target.src) && a->flip == b->flip && !strcmp(a->name, b->name);
}

Test(template, multi_and_multi_flip_have_the_documented_structure) {
    hb_template_set *m = load_set("templates/multi.yaml"), *f = load_set("templates/multi-flip.yaml");
    hb_template_set *hb = load_set("templates/honeybee.yaml");
    for (size_t i = 0; i < 6; i++) {
        const hb_pattern_key *km = hb_template_lookup(m, QA_KEYS[i]), *kf = hb_template_lookup(f, QA_KEYS[i]);
        cr_assert_str_eq(km->key, QA_KEYS[i], "fine: one key per dataset");
        cr_assert_eq(km->n_patterns, 10, "%s", QA_KEYS[i]);
        cr_assert_eq(kf->n_patterns, 10, "%s", QA_KEYS[i]);
        /* pattern 0 is honeybee's phrasing */
        const hb_pattern *h = &hb_template_lookup(hb, QA_KEYS[i])->patterns[0];
        cr_assert(same_pattern(&km->patterns[0], h), "%s: pattern 0 is honeybee's", QA_KEYS[i]);
        for (uint32_t p = 0; p < 10; p++) {
            cr_assert_not(km->patterns[p].flip, "multi has no flip in %s", QA_KEYS[i]);
            if (p < 7) cr_assert(same_pattern(&km->patterns[p], &kf->patterns[p]), "%s[%u]", QA_KEYS[i], p);
            else cr_assert(kf->patterns[p].flip, "%s[%u] is input-inverted", QA_KEYS[i], p);
        }
        /* distinct phrasings */
        for (uint32_t a = 0; a < 10; a++)
            for (uint32_t b = a + 1; b < 10; b++) {
                cr_assert_str_neq(km->patterns[a].input.src, km->patterns[b].input.src, "%s %u %u", QA_KEYS[i], a, b);
                cr_assert_str_neq(kf->patterns[a].input.src, kf->patterns[b].input.src, "%s %u %u", QA_KEYS[i], a, b);
            }
    }
    for (size_t i = 0; i < 4; i++) {
        const hb_pattern_key *km = hb_template_lookup(m, REC_KEYS[i]), *kf = hb_template_lookup(f, REC_KEYS[i]);
        cr_assert_eq(km->n_patterns, 10);
        cr_assert_eq(kf->n_patterns, 10);
        const hb_pattern_key *kh = hb_template_lookup(hb, REC_KEYS[i]);
        cr_assert(same_pattern(&km->patterns[0], &kh->patterns[0]), "%s REC 0 is honeybee's", REC_KEYS[i]);
        cr_assert(same_pattern(&km->patterns[5], &kh->patterns[1]), "%s REG 0 is honeybee's", REC_KEYS[i]);
        for (uint32_t p = 0; p < 10; p++) {
            cr_assert(same_pattern(&km->patterns[p], &kf->patterns[p]), "%s[%u] same in both", REC_KEYS[i], p);
            cr_assert_eq(km->patterns[p].flip, p >= 5, "%s[%u]: 5 REC then 5 REG", REC_KEYS[i], p);
            cr_assert_str_eq(km->patterns[p].target.src, p < 5 ? "{bbox}" : "{phrase}");
        }
    }
    hb_template_free(m), hb_template_free(f), hb_template_free(hb);
}

/* task-name and dataset-name: every training pattern's input is "<identifier>: " + the example's fields */
static void expect_identifier(const hb_template_set *ts, const char *dataset, const char *ident) {
    const hb_pattern_key *k = hb_template_lookup(ts, dataset);
    cr_assert_not_null(k, "%s", dataset);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%s: {", ident);
    for (uint32_t p = 0; p < k->n_patterns; p++) {
        cr_assert_str_eq(k->patterns[p].instruction.src, "");
        cr_assert(!strncmp(k->patterns[p].input.src, prefix, strlen(prefix)), "%s: '%s' starts with '%s'", dataset,
                  k->patterns[p].input.src, prefix);
        cr_assert_null(strstr(k->patterns[p].input.src, "Answer"), "%s: no instruction sentence", dataset);
        cr_assert_null(strstr(k->patterns[p].input.src, "Provide"), "%s: no instruction sentence", dataset);
    }
}

Test(template, task_name_and_dataset_name_use_identifiers) {
    hb_template_set *t = load_set("templates/task-name.yaml"), *d = load_set("templates/dataset-name.yaml");
    static const char *const task[][2] = {{"vqav2", "vqa-open"}, {"gqa", "vqa-open"},  {"ocrvqa", "vqa-open"},
                                          {"vsr", "vqa-open"},   {"sqa", "vqa-mc"},    {"aokvqa", "vqa-mc"},
                                          {"mme", "vqa-open"},   {"mmb", "vqa-mc"},    {"eval-sqa", "vqa-mc"}};
    for (size_t i = 0; i < sizeof task / sizeof *task; i++) expect_identifier(t, task[i][0], task[i][1]);
    static const char *const ds[][2] = {{"vqav2", "vqav2"},   {"vqa", "vqav2"},       {"gqa", "gqa"},
                                        {"ocrvqa", "ocrvqa"}, {"vsr", "vsr"},         {"sqa", "scienceqa"},
                                        {"aokvqa", "aokvqa"}, {"refcoco", "refcoco"}, {"refcocop", "refcoco+"},
                                        {"refcocog", "refcocog"}, {"vgloc", "vg"},    {"mme", "vqav2"},
                                        {"mmb", "aokvqa"},    {"eval-sqa", "scienceqa"}};
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++) expect_identifier(d, ds[i][0], ds[i][1]);
    /* REC/REG under task-name: two identifiers, 50/50 */
    const hb_pattern_key *k = hb_template_lookup(t, "refcoco");
    cr_assert_eq(k->n_patterns, 2);
    cr_assert_str_eq(k->patterns[0].input.src, "rec: {phrase}");
    cr_assert_str_eq(k->patterns[1].input.src, "reg: {bbox}");
    hb_template_free(t), hb_template_free(d);
}

Test(template, every_shipped_set_loads_and_lints_clean) {
    static const char *const sets[] = {"templates/honeybee.yaml",   "templates/coarse.yaml",
                                       "templates/multi.yaml",      "templates/multi-flip.yaml",
                                       "templates/task-name.yaml",  "templates/dataset-name.yaml"};
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++) {
        char *p = tu_repo(sets[i]);
        hb_buf report = {0};
        int errors = -1, warnings = -1;
        hb_err e;
        cr_assert_eq(hb_template_lint(p, &report, &errors, &warnings, &e), 0, "%s", e.reason);
        cr_assert_eq(errors + warnings, 0, "%s:\n%s", sets[i], hb_buf_cstr(&report));
        hb_buf_free(&report);
        hb_template_set *ts = load_set(sets[i]);
        /* every set can render every training dataset and the evaluation prompts */
        static const char *const need[] = {"coyo100m", "blip",    "vqa",     "vqav2",    "gqa",    "ocrvqa",
                                           "vsr",      "sqa",     "aokvqa",  "refcoco",  "refcocop", "refcoco+",
                                           "refcocog", "vgloc",   "mme",     "mmb",      "eval-vqa", "eval-sqa"};
        for (size_t j = 0; j < sizeof need / sizeof *need; j++)
            cr_assert_not_null(hb_template_lookup(ts, need[j]), "%s: %s", sets[i], need[j]);
        /* coarse shares one REC/REG pair across RefCOCO, RefCOCO+, RefCOCOg and VG; the others are fine-grained */
        int coarse = strstr(sets[i], "coarse") != NULL;
        cr_assert_eq(hb_template_lookup(ts, "refcoco") == hb_template_lookup(ts, "vgloc"),
                     coarse || strstr(sets[i], "task-name"), "%s", sets[i]);
        hb_template_free(ts);
        free(p);
    }
}

/* ---- malformed files ---- */
typedef struct {
    const char *yaml, *expect;
} bad_case;

Test(template, malformed_sets_are_rejected_with_the_place) {
    static const bad_case bad[] = {
        {"[1, 2]", "a template set is a YAML mapping"},
        {"system: [x\n", "line "},
        {HEAD "patterns: {}\n", "no pattern keys"},
        {"conversation: {system: L, image_markers: [\"<image>\"]}\npatterns: {k: [{target: x}]}\n",
         "system: required key is missing"},
        {HEAD "patterns:\n  k: []\n", "patterns.k: empty pattern list"},
        {HEAD "patterns:\n  k: {input: x}\n", "patterns.k: expected a list of patterns"},
        {HEAD "patterns:\n  k: [{input: x}]\n", "patterns.k[0].target: required key is missing"},
        {HEAD "patterns:\n  k: [{input: x, target: y, tagret: z}]\n", "unknown key 'tagret'"},
        {HEAD "patterns:\n  k: [{input: \"{question\", target: y}]\n", "unclosed '{'"},
        {HEAD "patterns:\n  k: [{input: \"a } b\", target: y}]\n", "single '}'"},
        {HEAD "patterns:\n  k: [{input: \"{}\", target: y}]\n", "only named fields"},
        {HEAD "patterns:\n  k: [{input: \"{0}\", target: y}]\n", "only named fields"},
        {HEAD "patterns:\n  k: [{input: \"{a.b}\", target: y}]\n", "only named fields"},
        {HEAD "patterns:\n  k: [{input: \"{a!r}\", target: y}]\n", "only named fields"},
        {HEAD "patterns:\n  k: [{input: \"{a:>3}\", target: y}]\n", "only named fields"},
        {HEAD "patterns:\n  k: [{input: \"see <image>\", target: y}]\n", "image placeholder"},
        {HEAD "patterns:\n  k: [{input: \"a\\nAI: b\", target: y}]\n", "role boundary"},
        {HEAD "patterns:\n  k: [{instruction: \"[NO_PROMPT]\", input: x, target: y}]\n", "must be empty"},
        {HEAD "patterns:\n  k: [{input: x, target: 3}]\n", "patterns.k[0].target: expected a string"},
        {HEAD "patterns:\n  k: [{input: x, target: y, flip: 1}]\n", "flip: expected true or false"},
        {HEAD "patterns:\n  k: [{input: x, target: y, options: {index: \"B.\"}}]\n", "index: expected one of"},
        {HEAD "options: {shuffle: yes}\npatterns:\n  k: [{input: x, target: y}]\n", "shuffle: expected true or false"},
        {HEAD "options: {answer: letter}\npatterns:\n  k: [{input: x, target: y}]\n", "options.answer: expected"},
        {HEAD "patterns:\n  k: [{input: x, target: y}]\ndatasets: {d: nope}\n", "maps to pattern key 'nope'"},
        {HEAD "patterns:\n  k: [{input: x, target: y}]\ndatasets: {d: [k]}\n", "expected the name of a pattern key"},
        {HEAD "patterns:\n  k: [{input: x, target: y}]\nfields: {d: [\"a b\"]}\n", "expected a field name"},
        {HEAD "patterns:\n  k: [{input: x, target: y}]\nsystem2: x\n", "unknown key 'system2'"},
        {"system: S\nconversation: {system: L, image_markers: [\"<img>\"]}\npatterns: {k: [{target: x}]}\n",
         "expected a string containing '<image>'"},
        {"system: \"\"\nconversation: {system: L, image_markers: [\"<image>\"]}\npatterns: {k: [{target: x}]}\n",
         "system: must not be empty"},
        {"system: S\npatterns: {k: [{target: x}]}\n", "conversation: required key is missing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        hb_template_set *ts = (hb_template_set *)1;
        hb_err e;
        int code = hb_template_parse(bad[i].yaml, strlen(bad[i].yaml), "bad.yaml", &ts, &e);
        cr_assert_eq(code, HB_EFORMAT, "case %zu: code %d", i, code);
        cr_assert_null(ts, "case %zu", i);
        cr_assert_str_eq(e.file, "bad.yaml");
        cr_assert_not_null(strstr(e.reason, bad[i].expect), "case %zu: '%s' lacks '%s'", i, e.reason, bad[i].expect);
        /* lint reports the same problem as an error line */
        hb_buf r = {0};
        int errors = 0, warnings = 0;
        hb_template_lint_text(bad[i].yaml, strlen(bad[i].yaml), "bad.yaml", &r, &errors, &warnings);
        cr_assert_gt(errors, 0, "case %zu", i);
        cr_assert_not_null(strstr(hb_buf_cstr(&r), bad[i].expect), "case %zu: %s", i, hb_buf_cstr(&r));
        cr_assert_not_null(strstr(hb_buf_cstr(&r), "bad.yaml: error: "), "case %zu", i);
        hb_buf_free(&r);
    }
}

Test(template, load_reports_the_first_problem_and_counts_the_rest) {
    const char *y = HEAD "patterns:\n  a: []\n  b: [{input: \"{x\", target: y}]\ndatasets: {d: nope}\n";
    hb_template_set *ts;
    hb_err e;
    cr_assert_eq(hb_template_parse(y, strlen(y), "m.yaml", &ts, &e), HB_EFORMAT);
    cr_assert_not_null(strstr(e.reason, "patterns.a: empty pattern list"), "%s", e.reason);
    cr_assert_not_null(strstr(e.reason, "and 2 more problems"), "%s", e.reason);
    cr_assert_not_null(strstr(e.reason, "hb-prep lint-templates m.yaml"), "%s", e.reason);
    char *missing = tu_repo("templates/no-such-set.yaml");
    cr_assert_eq(hb_template_load(missing, &ts, &e), HB_ENOTFOUND);
    cr_assert_not_null(strstr(e.file, "no-such-set.yaml"));
    cr_assert_null(ts);
    free(missing);
}

Test(template, lint_finds_semantic_problems) {
    const char *y = HEAD "patterns:\n"
                         "  vqa: [{input: \"Q {question} {answr}\", target: \"{answer}\"},\n"
                         "        {input: \"Q {question} {answr}\", target: \"{answer}\"}]\n"
                         "  cap: [{instruction: \"[NO_PROMPT]\", target: \"{caption}\"}]\n"
                         "  unused: [{input: \"{question}\", target: \"{answer}\"}]\n"
                         "  odd: [{instruction: \"use {x}\", input: \"{phrase}\", target: \"{bbox}\"}]\n"
                         "  mine: [{input: \"{q2}\", target: \"{a2}\"}]\n"
                         "datasets: {vqav2: vqa, coyo100m: cap, blip: vqa, llava150k: cap, strange: cap, "
                         "vgloc: odd, own: mine}\n"
                         "fields: {own: [q2, a2]}\n";
    hb_buf r = {0};
    int errors = 0, warnings = 0;
    hb_template_lint_text(y, strlen(y), "l.yaml", &r, &errors, &warnings);
    const char *s = hb_buf_cstr(&r);
    static const char *const expect[] = {
        "error: datasets.vqav2: patterns.vqa[0].input uses {answr}, which dataset 'vqav2' does not provide",
        "error: datasets.blip: patterns.vqa[0].input uses {question}, which dataset 'blip' does not provide "
        "(it provides: caption)",
        "warning: datasets.llava150k: 'llava150k' holds pre-rendered conversations",
        "warning: datasets.strange: the fields of dataset 'strange' are unknown",
        "warning: patterns.unused: no dataset renders with this key",
        "warning: patterns.vqa: patterns 0 and 1 are identical",
        "warning: patterns.odd: pattern 0: the instruction is used as written",
        "known datasets have no pattern",
    };
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++)
        cr_assert_not_null(strstr(s, expect[i]), "missing '%s' in:\n%s", expect[i], s);
    cr_assert_null(strstr(s, "datasets.own"), "declared fields are honoured:\n%s", s);
    cr_assert_null(strstr(s, "datasets.coyo100m"), "%s", s);
    /* {answr} in both patterns through vqav2 and through the key vqa itself (a known dataset name); {question},
     * {answr} and {answer} in both patterns through blip */
    cr_assert_eq(errors, 10, "%s", s);
    hb_buf_free(&r);
}

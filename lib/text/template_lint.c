/* Lint of template sets, and hb's table of known datasets and the fields their converters provide.
 * Dependencies: template_impl.h (the set's layout, ts_build, ts_diag), recipe/yaml.h (hb_yaml_parse),
 *               core/core.h (hb_buf, hb_err). */
#include "text/template_impl.h"

#include <stdlib.h>
#include <string.h>

#include "recipe/yaml.h"

/* ---- known datasets (docs/templates.md, "Datasets and their fields") ----
 * Names are Honeybee's config names plus the obvious aliases; fields are what the converters put in hb_example
 * (lib/text/example.h). For multiple-choice datasets, option/answer/answer_text are built by the renderer. */
static const char *const F_QA[] = {"question", "answer", NULL};
static const char *const F_GQA[] = {"question", "answer", "full_answer", NULL};
static const char *const F_VSR[] = {"question", "question_interro", "answer", NULL};
static const char *const F_SQA[] = {"question", "context", "lecture", "solution", "option", "answer", "answer_text", NULL};
static const char *const F_AOK[] = {"question", "rationale", "option", "answer", "answer_text", NULL};
static const char *const F_LOC[] = {"phrase", "bbox", NULL};
static const char *const F_CAP[] = {"caption", NULL};
static const char *const F_Q[] = {"question", NULL};
static const char *const F_ESQA[] = {"question", "context", "option", "answer", "answer_text", NULL};
static const char *const F_PHRASE[] = {"phrase", NULL};
static const char *const F_INTERRO[] = {"question_interro", NULL};
static const char *const F_NONE[] = {NULL};

static const ts_known KNOWN[] = {
    /* captioning (PT and FT) */
    {"coyo100m", TS_QA, 1, F_CAP},
    {"blip", TS_QA, 1, F_CAP},
    {"coyo", TS_QA, 0, F_CAP},
    {"textcaps", TS_QA, 0, F_CAP},
    /* open VQA */
    {"vqa", TS_QA, 1, F_QA},
    {"vqav2", TS_QA, 0, F_QA},
    {"gqa", TS_QA, 1, F_GQA},
    {"ocrvqa", TS_QA, 1, F_QA},
    {"vgqa", TS_QA, 0, F_QA},
    {"okvqa", TS_QA, 0, F_QA},
    {"kvqa", TS_QA, 0, F_QA},
    {"vsr", TS_QA, 1, F_VSR},
    /* multiple-choice VQA */
    {"sqa", TS_MC, 1, F_SQA},
    {"scienceqa", TS_MC, 0, F_SQA},
    {"aokvqa", TS_MC, 1, F_AOK},
    /* referring expressions and regions */
    {"refcoco", TS_QA, 1, F_LOC},
    {"refcocop", TS_QA, 1, F_LOC},
    {"refcoco+", TS_QA, 0, F_LOC},
    {"refcocog", TS_QA, 1, F_LOC},
    {"vgloc", TS_QA, 1, F_LOC},
    {"vg", TS_QA, 0, F_LOC},
    {"refexploc", TS_QA, 0, F_LOC},
    /* pre-rendered conversations */
    {"llava150k", TS_CONV, 0, F_NONE},
    {"llava", TS_CONV, 0, F_NONE},
    {"vicuna40k", TS_CONV, 0, F_NONE},
    {"sharegpt", TS_CONV, 0, F_NONE},
    /* evaluation prompts (spec-data.md §6) */
    {"mme", TS_QA, 1, F_Q},
    {"mmb", TS_QA, 1, F_Q},
    {"seed", TS_QA, 0, F_Q},
    {"pope", TS_QA, 0, F_Q},
    {"mmmu-mc", TS_QA, 0, F_Q},
    {"mmmu-open", TS_QA, 0, F_Q},
    {"eval-vqa", TS_QA, 1, F_Q},
    {"eval-sqa", TS_MC, 1, F_ESQA},
    {"eval-refexploc", TS_QA, 0, F_PHRASE},
    {"eval-vsr", TS_QA, 0, F_INTERRO},
};

const ts_known *ts_known_dataset(const char *name) {
    for (size_t i = 0; i < sizeof KNOWN / sizeof *KNOWN; i++)
        if (!strcmp(KNOWN[i].name, name)) return &KNOWN[i];
    return NULL;
}
size_t ts_known_count(void) { return sizeof KNOWN / sizeof *KNOWN; }
const ts_known *ts_known_at(size_t i) { return i < ts_known_count() ? &KNOWN[i] : NULL; }

/* ---- semantic checks ---- */
static int has_field(const char *const *fields, const char *name, uint32_t len) {
    for (; *fields; fields++)
        if (strlen(*fields) == len && !memcmp(*fields, name, len)) return 1;
    return 0;
}

static void field_list(const char *const *fields, char *out, size_t n) {
    out[0] = 0;
    for (const char *const *f = fields; *f; f++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", f == fields ? "" : ", ", *f);
}

/* Every placeholder of key k must be a field of dataset `ds` (place names the mapping being checked). */
static void check_placeholders(const hb_template_set *ts, const hb_pattern_key *k, const char *ds, const char *place,
                               ts_diag *d) {
    const char *const *fields = hb_template_dataset_fields(ts, ds);
    if (!fields) return;
    static const char *const parts[3] = {"instruction", "input", "target"};
    for (uint32_t p = 0; p < k->n_patterns; p++) {
        const hb_tstr *strs[3] = {&k->patterns[p].instruction, &k->patterns[p].input, &k->patterns[p].target};
        for (int s = 0; s < 3; s++)
            for (uint32_t g = 0; g < strs[s]->n_segs; g++) {
                const hb_tseg *seg = &strs[s]->segs[g];
                if (!seg->is_field || has_field(fields, seg->text, seg->len)) continue;
                char have[400];
                field_list(fields, have, sizeof have);
                ts_problem(d, 1, place, "patterns.%s[%u].%s uses {%.*s}, which dataset '%s' does not provide "
                                        "(it provides: %s)",
                           k->key, p, parts[s], (int)seg->len, seg->text, ds, have);
            }
    }
}

static int same_tstr(const hb_tstr *a, const hb_tstr *b) { return !strcmp(a->src, b->src); }

static void lint_set(const hb_template_set *ts, ts_diag *d) {
    /* datasets mapped to a key */
    for (uint32_t i = 0; i < ts->n_datasets; i++) {
        const ts_dataset *ds = &ts->datasets[i];
        char place[300];
        snprintf(place, sizeof place, "datasets.%s", ds->name);
        if (hb_template_is_conversation_dataset(ds->name)) {
            ts_problem(d, 0, place, "'%s' holds pre-rendered conversations: they are rendered with the "
                                    "conversation section and never use a pattern", ds->name);
            continue;
        }
        if (!hb_template_dataset_fields(ts, ds->name)) {
            ts_problem(d, 0, place, "the fields of dataset '%s' are unknown, so its placeholders cannot be checked "
                                    "(declare them under fields:)", ds->name);
            continue;
        }
        check_placeholders(ts, &ts->keys[ds->key], ds->name, place, d);
    }
    /* keys reached by their own name, and keys nothing reaches */
    for (uint32_t k = 0; k < ts->n_keys; k++) {
        const hb_pattern_key *key = &ts->keys[k];
        int mapped_elsewhere = 0, used = 0;
        for (uint32_t i = 0; i < ts->n_datasets; i++) {
            if (ts->datasets[i].key == k) used = 1;
            if (!strcmp(ts->datasets[i].name, key->key)) mapped_elsewhere = ts->datasets[i].key != k;
        }
        char place[300];
        snprintf(place, sizeof place, "patterns.%s", key->key);
        int direct = !mapped_elsewhere && hb_template_dataset_fields(ts, key->key) != NULL;
        if (direct) check_placeholders(ts, key, key->key, place, d);
        if (!used && !direct)
            ts_problem(d, 0, place, "no dataset renders with this key (map one to it under datasets:%s)",
                       mapped_elsewhere ? "; the dataset of the same name is mapped to another key" : "");
        for (uint32_t a = 0; a < key->n_patterns; a++)
            if (strpbrk(key->patterns[a].instruction.src, "{}"))
                ts_problem(d, 0, place, "pattern %u: the instruction is used as written (as in Honeybee), so its "
                                        "braces stay literal and no field is substituted there", a);
        for (uint32_t a = 0; a < key->n_patterns; a++)
            for (uint32_t b = a + 1; b < key->n_patterns; b++) {
                const hb_pattern *pa = &key->patterns[a], *pb = &key->patterns[b];
                if (same_tstr(&pa->instruction, &pb->instruction) && same_tstr(&pa->input, &pb->input) &&
                    same_tstr(&pa->target, &pb->target) && !memcmp(&pa->options, &pb->options, sizeof pa->options))
                    ts_problem(d, 0, place, "patterns %u and %u are identical (the duplicate doubles the weight of "
                                            "one phrasing)", a, b);
            }
    }
    /* known datasets the set cannot render: one warning listing them */
    char missing[1200] = "";
    int n_missing = 0;
    for (size_t i = 0; i < ts_known_count(); i++) {
        const ts_known *kd = ts_known_at(i);
        if (!kd->required || hb_template_lookup(ts, kd->name)) continue;
        snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s", n_missing ? ", " : "",
                 kd->name);
        n_missing++;
    }
    if (n_missing)
        ts_problem(d, 0, "datasets", "%d known dataset%s no pattern (no datasets entry and no pattern key of that "
                                     "name): %s",
                   n_missing, n_missing == 1 ? " has" : "s have", missing);
}

int hb_template_lint_text(const char *text, size_t len, const char *name, hb_buf *report, int *n_errors,
                          int *n_warnings) {
    ts_diag d = {.out = report, .file = name};
    cJSON *root = NULL;
    hb_err e;
    if (hb_yaml_parse(text, len, name, &root, &e)) {
        ts_problem(&d, 1, "", "YAML: %s", e.reason); /* the reason holds line and column */
    } else {
        hb_template_set *ts = ts_build(root, name, &d);
        if (ts) lint_set(ts, &d);
        hb_template_free(ts);
        cJSON_Delete(root);
    }
    if (n_errors) *n_errors = d.errors;
    if (n_warnings) *n_warnings = d.warnings;
    return 0;
}

int hb_template_lint(const char *path, hb_buf *report, int *n_errors, int *n_warnings, hb_err *err) {
    uint8_t *text;
    size_t n;
    int code = hb_file_read_all(path, &text, &n, err);
    if (code) return code;
    hb_template_lint_text((const char *)text, n, path, report, n_errors, n_warnings);
    free(text);
    return 0;
}

/* lib/text/render against the independent Python reference (tests/ref/gen_render_fixtures.py): every case of
 * tests/fixtures/render/cases.jsonl (real VQAv2, GQA, VG, VSR, ScienceQA, LLaVA and ShareGPT excerpts, written
 * samples for the rest, every shipped template set and the edge-case set) is replayed with the choices the
 * reference drew, and text and turns must match byte for byte. Seeded renders of the same inputs must replay to
 * themselves. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "helpers/testutil.h"
#include "text/render.h"

typedef struct {
    char *path;
    hb_template_set *ts;
} cached_set;

static hb_template_set *get_set(cached_set *cache, size_t *n, const char *rel) {
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(cache[i].path, rel)) return cache[i].ts;
    char *p = tu_repo(rel);
    hb_err e;
    cr_assert_eq(hb_template_load(p, &cache[*n].ts, &e), 0, "%s: %s", p, e.reason);
    free(p);
    cache[*n].path = hb_xstrdup(rel);
    return cache[(*n)++].ts;
}

static void check_turns(const hb_rendered *r, const cJSON *want, int line) {
    cr_assert_eq((int)r->n_turns, cJSON_GetArraySize(want), "line %d: %u turns", line, r->n_turns);
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, want) {
        const char *role = cJSON_GetObjectItem(t, "role")->valuestring;
        const char *text = cJSON_GetObjectItem(t, "text")->valuestring;
        cr_assert_str_eq(hb_role_name(r->turns[i].role), role, "line %d turn %d", line, i);
        cr_assert(r->turns[i].len == strlen(text) && !memcmp(r->turns[i].text, text, r->turns[i].len),
                  "line %d turn %d: '%.*s' want '%s'", line, i, (int)r->turns[i].len, r->turns[i].text, text);
        i++;
    }
}

Test(render_ref, replays_match_the_python_reference, .timeout = 60) {
    char *path = tu_repo("tests/fixtures/render/cases.jsonl");
    size_t len;
    char *data = (char *)tu_read(path, &len);
    cr_assert_not_null(data, "%s", path);
    cached_set cache[16];
    size_t n_cache = 0;
    hb_arena a;
    hb_arena_init(&a, 0);
    int line = 0, conversations = 0, mc = 0, sets_seen = 0;
    char last_set[256] = "";
    for (char *p = data, *nl; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        cr_assert_not_null(nl);
        *nl = 0;
        line++;
        cJSON *c = cJSON_Parse(p);
        cr_assert_not_null(c, "line %d", line);
        const char *set = cJSON_GetObjectItem(c, "set")->valuestring;
        if (strcmp(set, last_set)) sets_seen++, snprintf(last_set, sizeof last_set, "%s", set);
        hb_template_set *ts = get_set(cache, &n_cache, set);
        char *input = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "input"));
        char *choices = cJSON_PrintUnformatted(cJSON_GetObjectItem(c, "choices"));
        const char *want = cJSON_GetObjectItem(c, "text")->valuestring;
        hb_arena_reset(&a);
        hb_render_input in;
        hb_rendered r;
        hb_err e;
        cr_assert_eq(hb_render_input_from_json(input, strlen(input), &in, &a, &e), 0, "line %d: %s", line, e.reason);
        cr_assert_eq(hb_render_replay(ts, &in, choices, &a, &r, &e), 0, "line %d: %s", line, e.reason);
        cr_assert_str_eq(r.text, want, "line %d (%s, %s)", line, set, in.id);
        check_turns(&r, cJSON_GetObjectItem(c, "turns"), line);
        /* the recorded choices are the reference's, key for key */
        cJSON *mine = cJSON_Parse(r.choices);
        cr_assert(cJSON_Compare(mine, cJSON_GetObjectItem(c, "choices"), 1), "line %d: %s vs %s", line, r.choices,
                  choices);
        cJSON_Delete(mine);
        conversations += in.n_conv > 0;
        for (uint32_t k = 0; k < in.n_examples; k++) mc += in.examples[k].n_options > 0;
        /* a seeded render of the same input replays to itself */
        hb_rendered s, s2;
        cr_assert_eq(hb_render(ts, &in, (uint64_t)line, &a, &s, &e), 0, "line %d: %s", line, e.reason);
        cr_assert_eq(hb_render_replay(ts, &in, s.choices, &a, &s2, &e), 0, "line %d: %s", line, e.reason);
        cr_assert_str_eq(s.text, s2.text, "line %d", line);
        cr_assert_str_eq(s.choices, s2.choices, "line %d", line);
        free(input);
        free(choices);
        cJSON_Delete(c);
    }
    cr_assert_gt(line, 300, "the fixture holds %d cases", line);
    cr_assert_eq(sets_seen, 7, "every set is covered");
    cr_assert_gt(conversations, 40);
    cr_assert_gt(mc, 60);
    for (size_t i = 0; i < n_cache; i++) {
        hb_template_free(cache[i].ts);
        free(cache[i].path);
    }
    hb_arena_free(&a);
    free(data);
    free(path);
}

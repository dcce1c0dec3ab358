/* lib/recipe/yaml: YAML -> cJSON typing, anchors, errors with lines, typed getters. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "recipe/yaml.h"

static cJSON *parse(const char *y) {
    cJSON *j = NULL;
    hb_err e;
    cr_assert_eq(hb_yaml_parse(y, strlen(y), "t.yaml", &j, &e), 0, "%s", e.reason);
    return j;
}

Test(yaml, scalars_are_typed) {
    cJSON *j = parse("a: 1\nb: 2.5\nc: true\nd: ~\ne: hello world\nf: \"123\"\ng: -3e-2\nh: 0x10\ni: .inf\n"
                     "j: 1.2.3\nk: 'yes'\nl:\n");
    cr_assert_eq(cJSON_GetObjectItem(j, "a")->valuedouble, 1);
    cr_assert_eq(cJSON_GetObjectItem(j, "b")->valuedouble, 2.5);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "c")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "d")));
    cr_assert_str_eq(cJSON_GetObjectItem(j, "e")->valuestring, "hello world");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "f")->valuestring, "123", "quoted scalars stay strings");
    cr_assert_float_eq(cJSON_GetObjectItem(j, "g")->valuedouble, -0.03, 1e-12);
    cr_assert_eq(cJSON_GetObjectItem(j, "h")->valuedouble, 16);
    cr_assert(isinf(cJSON_GetObjectItem(j, "i")->valuedouble));
    cr_assert_str_eq(cJSON_GetObjectItem(j, "j")->valuestring, "1.2.3");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "k")->valuestring, "yes");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "l")));
    cJSON_Delete(j);
}

Test(yaml, nesting_block_and_flow_and_aliases) {
    cJSON *j = parse("base: &b {x: 1, y: [a, b]}\nlist:\n  - *b\n  - z: |\n      two\n      lines\n");
    const cJSON *l = cJSON_GetObjectItem(j, "list");
    cr_assert_eq(cJSON_GetArraySize(l), 2);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(l, 0), "x")->valuedouble, 1);
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(l, 0), "y"), 1)->valuestring, "b");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(l, 1), "z")->valuestring, "two\nlines\n");
    cJSON_Delete(j);
}

Test(yaml, errors_name_file_and_line) {
    const char *bad[] = {"a: 1\nb: [1, 2\n", "a: 1\na: 2\n", "a: *nope\n", "a:\n  - b\n c: d\n"};
    for (size_t i = 0; i < 4; i++) {
        cJSON *j = NULL;
        hb_err e;
        cr_assert_eq(hb_yaml_parse(bad[i], strlen(bad[i]), "bad.yaml", &j, &e), HB_EFORMAT, "case %zu", i);
        cr_assert_str_eq(e.file, "bad.yaml");
        cr_assert(strstr(e.reason, "line "), "%s", e.reason);
        cr_assert_null(j);
    }
}

Test(yaml, typed_getters) {
    cJSON *j = parse("n: 3\ns: x\nf: 1.5\nb: false\n");
    hb_err e;
    long long n = 0;
    const char *s = NULL;
    double f = 0;
    int b = 1;
    cr_assert_eq(hb_cfg_int(j, "n", 1, "c.yaml", "top", &n, &e), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(hb_cfg_str(j, "s", 1, "c.yaml", "top", &s, &e), 0);
    cr_assert_eq(hb_cfg_num(j, "f", 1, "c.yaml", "top", &f, &e), 0);
    cr_assert_eq(hb_cfg_bool(j, "b", 1, "c.yaml", "top", &b, &e), 0);
    cr_assert_eq(b, 0);
    cr_assert_eq(hb_cfg_int(j, "f", 1, "c.yaml", "top", &n, &e), HB_EFORMAT);
    cr_assert_str_eq(e.reason, "top.f: expected an integer");
    cr_assert_eq(hb_cfg_int(j, "missing", 0, "c.yaml", "top", &n, &e), 0, "optional keys keep the default");
    cr_assert_eq(hb_cfg_int(j, "missing", 1, "c.yaml", "top", &n, &e), HB_EFORMAT);
    const char *known[] = {"n", "s", "f", NULL};
    cr_assert_eq(hb_cfg_known_keys(j, known, "c.yaml", "top", &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "top.b: unknown key"), "%s", e.reason);
    cJSON_Delete(j);
}

/* Nested aliases ("billion laughs"): six levels of ten copies are 1.1 million nodes from 300 bytes (seven levels took
 * 2.6 GB and 6.5 s, nine would exhaust memory). Aliases are charged to a budget; ordinary anchors still work. Nesting
 * is capped at 1000 levels (the tree is built and freed recursively). Found by hand while writing fuzz_yaml (the fuzzer
 * had not reached it). */
Test(yaml, alias_bombs_and_deep_nesting_are_refused) {
    hb_buf b = {0};
    hb_buf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i <= 5; i++) {
        hb_buf_printf(&b, "a%d: &a%d [", i, i);
        for (int k = 0; k < 10; k++) hb_buf_printf(&b, "%s*a%d", k ? ", " : "", i - 1);
        hb_buf_puts(&b, "]\n");
    }
    cJSON *j = NULL;
    hb_err e;
    cr_assert_eq(hb_yaml_parse((const char *)b.data, b.len, "laughs.yaml", &j, &e), HB_EFORMAT, "an alias bomb parsed");
    cr_assert(strstr(e.reason, "aliases expand to too many nodes"), "%s", e.reason);
    cr_assert_null(j);
    hb_buf_clear(&b);
    hb_buf_puts(&b, "d: &d {lr: 1, wd: 0}\n");
    for (int i = 0; i < 200; i++) hb_buf_printf(&b, "s%d: *d\n", i);
    cr_assert_eq(hb_yaml_parse((const char *)b.data, b.len, "ok.yaml", &j, &e), 0, "%s", e.reason);
    cJSON_Delete(j);
    for (int depth = 1000; depth <= 1001; depth++) {
        hb_buf_clear(&b);
        for (int i = 0; i < depth; i++) hb_buf_putc(&b, '[');
        for (int i = 0; i < depth; i++) hb_buf_putc(&b, ']');
        int rc = hb_yaml_parse((const char *)b.data, b.len, "deep.yaml", &j, &e);
        if (depth == 1000) {
            cr_assert_eq(rc, 0, "%s", e.reason);
            cJSON_Delete(j);
        } else {
            cr_assert_eq(rc, HB_EFORMAT, "sequences nested %d deep parsed", depth);
            cr_assert(strstr(e.reason, "nested more than 1000 deep"), "%s", e.reason);
        }
    }
    /* an alias that would push an anchored nest past the limit */
    hb_buf_clear(&b);
    hb_buf_puts(&b, "a: &a ");
    for (int i = 0; i < 600; i++) hb_buf_putc(&b, '[');
    for (int i = 0; i < 600; i++) hb_buf_putc(&b, ']');
    hb_buf_puts(&b, "\nb: ");
    for (int i = 0; i < 500; i++) hb_buf_putc(&b, '[');
    hb_buf_puts(&b, "*a");
    for (int i = 0; i < 500; i++) hb_buf_putc(&b, ']');
    hb_buf_putc(&b, '\n');
    cr_assert_eq(hb_yaml_parse((const char *)b.data, b.len, "deep.yaml", &j, &e), HB_EFORMAT);
    cr_assert(strstr(e.reason, "1000 deep"), "%s", e.reason);
    hb_buf_free(&b);
}

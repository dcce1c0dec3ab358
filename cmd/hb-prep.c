/* hb-prep: raw dataset files -> shards, and the tools of template authors.
 *   hb-prep render --templates FILE [--dataset NAME] [--seed N] [-j N] [-o OUT.jsonl] [IN.jsonl]
 *   hb-prep lint-templates [--strict] FILE...
 * main is a dispatcher: a first argument naming a subcommand runs that function (the SUBCOMMANDS table); the recipe
 * mode, `hb-prep RECIPE -o OUTDIR`, is meant to be the fallback for any other first argument.
 * Dependencies: text/template.h (hb_template_load, hb_template_lint), text/render.h (hb_render_jsonl),
 *               core/core.h (hb_err, hb_afile, hb_parse_i64). */
#include "core/core.h"
#include "text/render.h"
#include "text/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: hb-prep render --templates FILE [--dataset NAME] [--seed N] [-j N] [-o OUT.jsonl] [IN.jsonl]\n"
    "       hb-prep lint-templates [--strict] FILE...\n"
    "\n"
    "render          render JSON lines ({\"id\", \"image\", \"examples\": [{\"question\", \"answer\", ...}]} or\n"
    "                {\"id\", \"image\", \"conversations\": [{\"from\", \"value\"}]}) with a template set; writes one\n"
    "                {\"id\", \"dataset\", \"text\", \"turns\", \"choices\"} per line (stdin/stdout by default)\n"
    "lint-templates  check template sets: syntax, unknown keys, placeholders a dataset does not provide, datasets\n"
    "                without a pattern, empty pattern lists (exit 1 on errors; --strict: on warnings too)\n"
    "See docs/templates.md.\n";

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "hb-prep: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", USAGE);
    return 2;
}

static int fail(const hb_err *e) {
    char buf[2048];
    fprintf(stderr, "hb-prep: %s\n", hb_err_format(e, buf, sizeof buf));
    return 1;
}

static int cmd_render(int argc, char **argv) {
    const char *templates = NULL, *in_path = NULL, *out_path = NULL;
    hb_render_jsonl_opts o = {.threads = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        long long v;
        if (!strcmp(a, "--templates") && has_value) templates = argv[++i];
        else if (!strcmp(a, "--dataset") && has_value) o.dataset = argv[++i];
        else if (!strcmp(a, "-o") && has_value) out_path = argv[++i];
        else if (!strcmp(a, "--seed") && has_value) {
            if (hb_parse_i64(argv[++i], &v) || v < 0) return usage_error("--seed: expected a non-negative integer, "
                                                                         "got '%s'", argv[i]);
            o.seed = (uint64_t)v;
        } else if (!strcmp(a, "-j") && has_value) {
            if (hb_parse_i64(argv[++i], &v) || v < 1 || v > 1024)
                return usage_error("-j: expected a thread count from 1 to 1024, got '%s'", argv[i]);
            o.threads = (int)v;
        } else if (a[0] == '-' && a[1]) return usage_error("render: unknown or incomplete option '%s'", a);
        else if (!in_path) in_path = a;
        else return usage_error("render: more than one input file ('%s')", a);
    }
    if (!templates) return usage_error("%s", "render: --templates FILE is required");
    hb_err err;
    hb_err_clear(&err);
    hb_template_set *ts;
    if (hb_template_load(templates, &ts, &err)) return fail(&err);
    FILE *in = stdin;
    if (in_path && strcmp(in_path, "-") && !(in = fopen(in_path, "r"))) {
        hb_err_errno(&err, HB_EIO, in_path, "cannot open");
        hb_template_free(ts);
        return fail(&err);
    }
    o.in_name = in_path ? in_path : "<stdin>";
    hb_afile af;
    FILE *out = stdout;
    int code = 0;
    if (out_path) {
        if ((code = hb_afile_open(&af, out_path, &err))) goto done;
        out = af.fp;
    }
    uint64_t n = 0;
    code = hb_render_jsonl(ts, in, out, &o, &n, &err);
    if (out_path) {
        if (code) hb_afile_abort(&af); /* no partial file under the final name */
        else code = hb_afile_commit(&af, &err);
    }
done:
    if (in != stdin) fclose(in);
    hb_template_free(ts);
    return code ? fail(&err) : 0;
}

static int cmd_lint_templates(int argc, char **argv) {
    int strict = 0, files = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--strict")) strict = 1;
        else if (argv[i][0] == '-' && argv[i][1]) return usage_error("lint-templates: unknown option '%s'", argv[i]);
        else files++;
    }
    if (!files) return usage_error("%s", "lint-templates: give at least one template file");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--strict")) continue;
        hb_buf report = {0};
        int errors = 0, warnings = 0;
        hb_err err;
        if (hb_template_lint(argv[i], &report, &errors, &warnings, &err)) {
            fail(&err);
            bad = 1;
            continue;
        }
        fwrite(report.data ? (const char *)report.data : "", 1, report.len, stdout);
        hb_buf_free(&report);
        if (errors || (strict && warnings)) {
            printf("%s: %d error%s, %d warning%s\n", argv[i], errors, errors == 1 ? "" : "s", warnings,
                   warnings == 1 ? "" : "s");
            bad = 1;
            continue;
        }
        hb_template_set *ts;
        if (hb_template_load(argv[i], &ts, &err)) { /* lint found no error, so this cannot fail; be safe anyway */
            fail(&err);
            bad = 1;
            continue;
        }
        uint32_t patterns = 0;
        for (uint32_t k = 0; k < hb_template_n_keys(ts); k++) patterns += hb_template_key(ts, k)->n_patterns;
        printf("%s: ok: set '%s', %u pattern keys, %u patterns, %d warning%s\n", argv[i], hb_template_name(ts),
               hb_template_n_keys(ts), patterns, warnings, warnings == 1 ? "" : "s");
        hb_template_free(ts);
    }
    return bad;
}

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
} subcommand;

static const subcommand SUBCOMMANDS[] = {
    {"render", cmd_render},
    {"lint-templates", cmd_lint_templates},
};

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(USAGE, stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof SUBCOMMANDS / sizeof *SUBCOMMANDS; i++)
        if (!strcmp(argv[1], SUBCOMMANDS[i].name)) return SUBCOMMANDS[i].run(argc - 1, argv + 1);
    return usage_error("unknown subcommand '%s'", argv[1]);
}

/* hb-prep: raw dataset files -> shards, and the tools of template authors.
 *   hb-prep RECIPE [-o OUTDIR] [--only NAME] [--shard I/N] [-j N] [--strict] [--inputs] [--no-images]
 *   hb-prep converters
 *   hb-prep render --templates FILE [--dataset NAME] [--seed N] [-j N] [-o OUT.jsonl] [IN.jsonl]
 *   hb-prep lint-templates [--strict] FILE...
 * main is a dispatcher: a first argument naming a subcommand runs that function (the SUBCOMMANDS table); any other
 * first argument is the recipe mode (cmd_build).
 * Dependencies: prep/prep.h (hb_prep_run), recipe/recipe.h (hb_recipe_load), sources/sources.h (the registry),
 *               text/template.h (hb_template_load, hb_template_lint), text/render.h (hb_render_jsonl),
 *               core/core.h (hb_err, hb_afile, hb_parse_i64, hb_interrupt_set); <signal.h> (SIGINT/SIGTERM stop the
 *               run cleanly: temporary files are removed; a second signal ends it at once). */
#include "core/core.h"
#include "prep/prep.h"
#include "recipe/recipe.h"
#include "sources/sources.h"
#include "text/render.h"
#include "text/template.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: hb-prep RECIPE [-o OUTDIR] [--only NAME] [--shard I/N] [-j N] [--strict] [--inputs] [--no-images]\n"
    "                      [--shard-samples N] [-q]\n"
    "       hb-prep converters\n"
    "       hb-prep render --templates FILE [--dataset NAME] [--seed N] [-j N] [-o OUT.jsonl] [IN.jsonl]\n"
    "       hb-prep lint-templates [--strict] FILE...\n"
    "\n"
    "Compiles every source of RECIPE (docs/recipes.md) from its raw files into OUTDIR (default: the recipe's\n"
    "`output`): <source>-NNNNN.hbs shards, <source>.stats.json, <source>.rejects.jsonl and manifest.json.\n"
    "  -o OUTDIR          output directory\n"
    "  --only NAME        build one source (the manifest keeps the others' entries)\n"
    "  --shard I/N        build slice I of N (0 <= I < N) of every source, for Slurm arrays or xargs; the slice\n"
    "                     that finishes last writes the merged manifest.json\n"
    "  -j N               worker threads (output is byte-identical for every N)\n"
    "  --strict           stop at the first rejected record instead of skipping it\n"
    "  --inputs           write <source>.inputs.jsonl (what the renderer receives) instead of shards\n"
    "  --no-images        do not read images (samples reference none; for text-only dry runs and benchmarks)\n"
    "  --shard-samples N  samples per shard file (default 100000)\n"
    "  -q                 no summary lines\n"
    "converters          list the dataset converters (the recipe's `dataset:` values) and their file roles\n"
    "render          render JSON lines ({\"id\", \"image\", \"examples\": [{\"question\", \"answer\", ...}]} or\n"
    "                {\"id\", \"image\", \"conversations\": [{\"from\", \"value\"}]}) with a template set; writes one\n"
    "                {\"id\", \"dataset\", \"text\", \"turns\", \"choices\"} per line (stdin/stdout by default)\n"
    "lint-templates  check template sets: syntax, unknown keys, placeholders a dataset does not provide, datasets\n"
    "                without a pattern, empty pattern lists (exit 1 on errors; --strict: on warnings too)\n"
    "See docs/recipes.md, docs/sources.md (every converter's files, options and fields) and docs/templates.md.\n";

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

static int cmd_converters(int argc, char **argv) {
    (void)argc, (void)argv;
    for (size_t i = 0; i < hb_converter_count(); i++) {
        const hb_converter *c = hb_converter_at(i);
        printf("%-16s %s\n", c->name, c->summary);
        printf("%-16s files:", "");
        if (c->file_roles)
            for (const char *const *r = c->file_roles; *r; r++) printf(" %s", *r);
        else printf(" a path or a list of paths");
        if (c->conversation) printf("; conversations\n");
        else printf("; nturn %d, dedup %s\n", c->nturn, c->dedup);
    }
    return 0;
}

/* The first SIGINT/SIGTERM asks the run to stop (it removes its temporary files and exits 130); a second one ends
 * the process at once with the default action. */
static void on_signal(int sig) {
    hb_interrupt_set(sig);
    signal(sig, SIG_DFL);
}

static int cmd_build(int argc, char **argv) {
    const char *recipe = NULL;
    hb_prep_opts o = {.jobs = 1};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        long long v;
        if (!strcmp(a, "-o") && has_value) o.outdir = argv[++i];
        else if (!strcmp(a, "--only") && has_value) o.only = argv[++i];
        else if (!strcmp(a, "--shard") && has_value) {
            int si, sn, used = 0;
            const char *s = argv[++i];
            if (sscanf(s, "%d/%d%n", &si, &sn, &used) != 2 || s[used] || sn < 1 || si < 0 || si >= sn)
                return usage_error("--shard: expected I/N with 0 <= I < N, got '%s'", s);
            o.slice = si;
            o.n_slices = sn;
        } else if (!strcmp(a, "-j") && has_value) {
            if (hb_parse_i64(argv[++i], &v) || v < 1 || v > 1024)
                return usage_error("-j: expected a thread count from 1 to 1024, got '%s'", argv[i]);
            o.jobs = (int)v;
        } else if (!strcmp(a, "--shard-samples") && has_value) {
            if (hb_parse_i64(argv[++i], &v) || v < 1) return usage_error("--shard-samples: expected N >= 1, got '%s'", argv[i]);
            o.shard_samples = (uint64_t)v;
        } else if (!strcmp(a, "--strict")) o.strict = 1;
        else if (!strcmp(a, "--inputs")) o.inputs_only = 1;
        else if (!strcmp(a, "--no-images")) o.no_images = 1;
        else if (!strcmp(a, "-q")) o.quiet = 1;
        else if (a[0] == '-' && a[1]) return usage_error("unknown or incomplete option '%s'", a);
        else if (!recipe) recipe = a;
        else return usage_error("more than one recipe ('%s')", a);
    }
    if (!recipe) return usage_error("%s", "give a RECIPE");
    hb_err err;
    hb_err_clear(&err);
    hb_recipe r;
    if (hb_recipe_load(&r, recipe, &err)) return fail(&err);
    if (!o.outdir) o.outdir = r.output;
    if (!o.outdir) {
        hb_recipe_free(&r);
        return usage_error("%s", "no output directory: give -o OUTDIR or set `output` in the recipe");
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    hb_prep_summary sum;
    int rc = hb_prep_run(&r, &o, &sum, &err);
    if (!rc && !o.quiet) {
        char a[32], b[32], c[32];
        hb_log("done: %s records, %s samples, %s tokens in %.1fs (%.1f MB/s) -> %s", hb_fmt_count(sum.records, a, sizeof a),
               hb_fmt_count(sum.samples, b, sizeof b), hb_fmt_count(sum.tokens, c, sizeof c), sum.seconds,
               sum.seconds > 0 ? (double)sum.input_bytes / 1e6 / sum.seconds : 0.0, o.outdir);
    }
    if (rc == HB_EINTR) {
        fail(&err);
        fprintf(stderr, "hb-prep: stopped: no partial file is left under a final name; the sources finished before "
                        "were kept, and manifest.json is not updated until a run completes (run the same command "
                        "again to complete %s)\n", o.outdir);
        hb_recipe_free(&r);
        return 130;
    }
    hb_recipe_free(&r);
    return rc ? fail(&err) : 0;
}

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
} subcommand;

static const subcommand SUBCOMMANDS[] = {
    {"render", cmd_render},
    {"lint-templates", cmd_lint_templates},
    {"converters", cmd_converters},
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
    /* the recipe mode: hb-prep RECIPE ...; a bare word that is no file is a mistyped subcommand */
    const char *a = argv[1];
    size_t n = strlen(a);
    int yaml = (n > 5 && !strcmp(a + n - 5, ".yaml")) || (n > 4 && !strcmp(a + n - 4, ".yml"));
    if (a[0] != '-' && !strchr(a, '/') && !yaml && !hb_path_exists(a))
        return usage_error("unknown subcommand (and no recipe file) '%s'", a);
    return cmd_build(argc - 1, argv + 1);
}

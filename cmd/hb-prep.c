/* hb-prep: raw dataset files -> shards.
 *   hb-prep RECIPE [-o OUTDIR] [--only NAME] [--shard I/N] [-j N] [--strict] [--inputs] [--no-images]
 *   hb-prep converters
 * main is a dispatcher: a first argument naming a subcommand runs it, anything else is the main mode (cmd_build).
 * Dependencies: prep/prep.h (hb_prep_run), recipe/recipe.h (hb_recipe_load), sources/sources.h (the registry),
 *               core/core.h (hb_err, hb_parse_i64). */
#include "core/core.h"
#include "prep/prep.h"
#include "recipe/recipe.h"
#include "sources/sources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: hb-prep RECIPE [-o OUTDIR] [--only NAME] [--shard I/N] [-j N] [--strict] [--inputs] [--no-images]\n"
    "                      [--shard-samples N] [-q]\n"
    "       hb-prep converters\n"
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
    "See docs/sources.md for every converter's files, options and fields.\n";

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
    hb_prep_summary sum;
    int rc = hb_prep_run(&r, &o, &sum, &err);
    if (!rc && !o.quiet) {
        char a[32], b[32], c[32];
        hb_log("done: %s records, %s samples, %s tokens in %.1fs (%.1f MB/s) -> %s", hb_fmt_count(sum.records, a, sizeof a),
               hb_fmt_count(sum.samples, b, sizeof b), hb_fmt_count(sum.tokens, c, sizeof c), sum.seconds,
               sum.seconds > 0 ? (double)sum.input_bytes / 1e6 / sum.seconds : 0.0, o.outdir);
    }
    hb_recipe_free(&r);
    return rc ? fail(&err) : 0;
}

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
} subcommand;

static const subcommand SUBCOMMANDS[] = {
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
    return cmd_build(argc - 1, argv + 1); /* the main mode: hb-prep RECIPE ... */
}

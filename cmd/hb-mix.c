/* hb-mix: balance compiled shards into an exact, deterministic, resumable training stream (docs/mix-plan.md).
 *   hb-mix RECIPE [--dry-run] [-j N] [--shards DIR] [-o PLANDIR]   plan the recipe's mix section
 *   hb-mix info PLAN                                                summary of a plan (checks its hash)
 *   hb-mix dump PLAN [--from POS|CURSOR] [--count N] [--rank R/W] [--ids] [--shards DIR]   the stream as JSON lines
 *   hb-mix verify PLAN [--shards DIR]                               every entry, and the shards it names
 * Exit status: 0 ok, 1 failure (the message names file, record and reason), 2 usage. */
#include "core/core.h"
#include "mix/mix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *USAGE =
    "usage: hb-mix RECIPE [--dry-run] [-j N] [--shards DIR] [-o PLANDIR]\n"
    "       hb-mix info PLAN\n"
    "       hb-mix dump PLAN [--from POS|CURSOR] [--count N] [--rank R/W] [--ids] [--shards DIR]\n"
    "       hb-mix verify PLAN [--shards DIR]\n"
    "RECIPE's mix section says what to mix (docs/recipes.md); the plan goes to mix.output, else\n"
    "<shards>/mix-<name>/plan.hbmix, with table.json and table.md. --dry-run prints the table and writes nothing.\n";

static int fail(const char *what, const hb_err *e) {
    char buf[2048];
    fprintf(stderr, "hb-mix: %s%s%s\n", what ? what : "", what ? ": " : "", hb_err_format(e, buf, sizeof buf));
    return 1;
}

static int usage(void) {
    fputs(USAGE, stderr);
    return 2;
}

static int plan_cmd(const char *cmd, int argc, char **argv) {
    const char *path = NULL, *shards = NULL, *from = NULL;
    long long count = 0;
    unsigned rank = 0, world = 0;
    int ids = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--shards") && i + 1 < argc) shards = argv[++i];
        else if (!strcmp(cmd, "dump") && !strcmp(a, "--from") && i + 1 < argc) from = argv[++i];
        else if (!strcmp(cmd, "dump") && !strcmp(a, "--count") && i + 1 < argc) {
            if (hb_parse_i64(argv[++i], &count) || count < 0) return usage();
        } else if (!strcmp(cmd, "dump") && !strcmp(a, "--rank") && i + 1 < argc) {
            if (sscanf(argv[++i], "%u/%u", &rank, &world) != 2 || !world || rank >= world) return usage();
        } else if (!strcmp(cmd, "dump") && !strcmp(a, "--ids")) ids = 1;
        else if (a[0] != '-' && !path) path = a;
        else return usage();
    }
    if (!path) return usage();
    hb_err err;
    hb_err_clear(&err);
    hb_mix_plan *p;
    if (hb_mix_plan_open(&p, path, &err)) return fail(NULL, &err);
    int code = 0;
    if (!strcmp(cmd, "info")) hb_mix_plan_info(p, stdout);
    else if (!strcmp(cmd, "verify")) {
        if (!(code = hb_mix_plan_verify(p, shards, &err))) printf("verified %s\n", path);
    } else {
        uint64_t pos = 0;
        long long v;
        if (from && strchr(from, ':')) code = hb_mix_cursor_parse(p, from, &pos, &err);
        else if (from && (hb_parse_i64(from, &v) || v < 0)) {
            hb_mix_plan_close(p);
            return usage();
        } else if (from) pos = (uint64_t)v;
        if (!code) code = hb_mix_plan_dump(p, pos, (uint64_t)count, rank, world, ids, shards, stdout, &err);
    }
    hb_mix_plan_close(p);
    return code ? fail(NULL, &err) : 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage();
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "info") || !strcmp(argv[1], "dump") || !strcmp(argv[1], "verify"))
        return plan_cmd(argv[1], argc - 2, argv + 2);
    hb_mix_opts o = {0};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    o.jobs = cpus > 0 ? (int)cpus : 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long long v;
        if (!strcmp(a, "--dry-run")) o.dry_run = 1;
        else if (!strcmp(a, "-j") && i + 1 < argc) {
            if (hb_parse_i64(argv[++i], &v) || v < 1 || v > 1024) return usage();
            o.jobs = (int)v;
        } else if (!strncmp(a, "-j", 2) && a[2]) {
            if (hb_parse_i64(a + 2, &v) || v < 1 || v > 1024) return usage();
            o.jobs = (int)v;
        } else if (!strcmp(a, "--shards") && i + 1 < argc) o.shards_dir = argv[++i];
        else if (!strcmp(a, "-o") && i + 1 < argc) o.out_dir = argv[++i];
        else if (a[0] != '-' && !o.recipe) o.recipe = a;
        else return usage();
    }
    if (!o.recipe) return usage();
    hb_err err;
    hb_err_clear(&err);
    if (hb_mix_run(&o, stdout, &err)) return fail(o.dry_run ? "nothing written" : "no plan written", &err);
    return 0;
}

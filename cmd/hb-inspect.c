/* hb-inspect: look inside shards and output directories.
 *   hb-inspect dump PATH            one JSON object per sample per line
 *   hb-inspect verify PATH          check every checksum, the index and every sample; exit 1 at the first bad place
 *   hb-inspect stats [--json] PATH  counts and token totals per source
 *   hb-inspect pack [IN.jsonl] -o OUT.hbs   the inverse of dump (stdin when IN is absent)
 *   hb-inspect image DIR SAMPLE -o OUT.png [--image K] [--size S]   a sample's preprocessed image as a PNG
 * PATH is a shard file (*.hbs) or an output directory (its manifest.json, else every *.hbs in it). */
#include "core/core.h"
#include "image/image.h"
#include "shard/shard.h"

#include <stdlib.h>

#include <stdio.h>
#include <string.h>

static const char *USAGE =
    "usage: hb-inspect dump PATH\n"
    "       hb-inspect verify PATH\n"
    "       hb-inspect stats [--json] PATH\n"
    "       hb-inspect pack [IN.jsonl] -o OUT.hbs\n"
    "       hb-inspect image DIR SAMPLE -o OUT.png [--image K] [--size S]\n"
    "PATH is a shard file or an output directory; DIR an output directory with an image store;\n"
    "SAMPLE a sample id or a 0-based sample index; K the image of the sample (default 0).\n";

static int fail(const hb_err *e) {
    char buf[2048];
    fprintf(stderr, "hb-inspect: %s\n", hb_err_format(e, buf, sizeof buf));
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    hb_err err;
    hb_err_clear(&err);
    if (!strcmp(cmd, "dump") && argc == 3) return hb_inspect_dump(argv[2], stdout, &err) ? fail(&err) : 0;
    if (!strcmp(cmd, "verify") && argc == 3) {
        if (hb_inspect_verify(argv[2], stdout, &err)) return fail(&err);
        printf("verified %s\n", argv[2]);
        return 0;
    }
    if (!strcmp(cmd, "stats") && (argc == 3 || (argc == 4 && !strcmp(argv[2], "--json"))))
        return hb_inspect_stats(argv[argc - 1], argc == 4, stdout, &err) ? fail(&err) : 0;
    if (!strcmp(cmd, "pack")) {
        const char *in = NULL, *out = NULL;
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
            else if (!in) in = argv[i];
            else out = NULL, i = argc;
        }
        if (!out) {
            fputs(USAGE, stderr);
            return 2;
        }
        FILE *fp = in ? fopen(in, "r") : stdin;
        if (!fp) {
            hb_err_errno(&err, HB_EIO, in, "cannot open");
            return fail(&err);
        }
        int code = hb_inspect_pack(fp, in ? in : "<stdin>", out, NULL, &err);
        if (in) fclose(fp);
        return code ? fail(&err) : 0;
    }
    if (!strcmp(cmd, "image")) {
        const char *pos[2] = {NULL, NULL}, *out = NULL;
        long long k = 0, size = 0;
        int npos = 0, bad = 0;
        for (int i = 2; i < argc && !bad; i++) {
            if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
            else if (!strcmp(argv[i], "--image") && i + 1 < argc) bad = hb_parse_i64(argv[++i], &k) || k < 0;
            else if (!strcmp(argv[i], "--size") && i + 1 < argc) bad = hb_parse_i64(argv[++i], &size) || size < 0;
            else if (npos < 2) pos[npos++] = argv[i];
            else bad = 1;
        }
        if (bad || npos != 2 || !out) {
            fputs(USAGE, stderr);
            return 2;
        }
        return hb_inspect_image(pos[0], pos[1], (uint32_t)k, (uint32_t)size, out, stdout, &err) ? fail(&err) : 0;
    }
    fputs(USAGE, stderr);
    return 2;
}

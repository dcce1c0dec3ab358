/* hb-tok: the LLaMA tokenizer on the command line (tokenizer.json or tokenizer.model, detected by content).
 *   hb-tok encode --tokenizer FILE [--bos] [--eos] [--pieces]   JSON string per line -> JSON array of ids per line
 *   hb-tok decode --tokenizer FILE                               JSON array of ids per line -> JSON string per line
 *   hb-tok prompt --tokenizer FILE [--max-length N] [--visual-tokens M] [--no-eos]
 *                                                                rendered Honeybee prompt per line -> ids + loss mask
 *   hb-tok info   --tokenizer FILE                               what was loaded
 *   hb-tok bench  --tokenizer FILE [--threads N] [--ids-out F] TEXT   encode throughput on a raw text file
 * Input is stdin (or --input FILE), output stdout. Exit 1 on bad input (with the line number), 2 on usage errors.
 * Dependencies: text/tokenizer.h, text/prompt.h, core/core.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "text/prompt.h"
#include "text/tokenizer.h"

static const char *USAGE =
    "usage: hb-tok encode --tokenizer FILE [--bos] [--eos] [--pieces] [--input F]\n"
    "       hb-tok decode --tokenizer FILE [--input F]\n"
    "       hb-tok prompt --tokenizer FILE [--max-length N] [--visual-tokens M] [--no-eos] [--input F]\n"
    "       hb-tok info   --tokenizer FILE\n"
    "       hb-tok bench  --tokenizer FILE [--threads N] [--ids-out F] TEXTFILE\n"
    "FILE is a HuggingFace tokenizer.json or a SentencePiece tokenizer.model (detected by content).\n"
    "encode reads one JSON string per line and writes one JSON array of ids per line (no BOS by default, with\n"
    "the leading \"\xe2\x96\x81\" dummy prefix: HF add_special_tokens=False); decode does the reverse. prompt applies\n"
    "Honeybee's chunk-wise encoding (default --max-length 0 = no truncation, --visual-tokens 144).\n";

static int fail(const hb_err *e) {
    char buf[2048];
    fprintf(stderr, "hb-tok: %s\n", hb_err_format(e, buf, sizeof buf));
    return 1;
}

static int usage(const char *msg) {
    if (msg) fprintf(stderr, "hb-tok: %s\n", msg);
    fputs(USAGE, stderr);
    return 2;
}

static int int_arg(const char *s, long long lo, long long hi, long long *v) {
    return hb_parse_i64(s, v) == 0 && *v >= lo && *v <= hi ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1], *tok_path = NULL, *input = NULL, *ids_out = NULL, *text = NULL;
    int bos = 0, eos = 0, pieces = 0, no_eos = 0;
    long long max_length = 0, visual = 144, threads = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "--tokenizer") && has) tok_path = argv[++i];
        else if (!strcmp(a, "--input") && has) input = argv[++i];
        else if (!strcmp(a, "--ids-out") && has) ids_out = argv[++i];
        else if (!strcmp(a, "--bos")) bos = 1;
        else if (!strcmp(a, "--eos")) eos = 1;
        else if (!strcmp(a, "--pieces")) pieces = 1;
        else if (!strcmp(a, "--no-eos")) no_eos = 1;
        else if (!strcmp(a, "--max-length") && has) {
            if (int_arg(argv[++i], 0, 1 << 30, &max_length)) return usage("--max-length needs an integer >= 0");
        } else if (!strcmp(a, "--visual-tokens") && has) {
            if (int_arg(argv[++i], 0, 1 << 20, &visual)) return usage("--visual-tokens needs an integer >= 0");
        } else if (!strcmp(a, "--threads") && has) {
            if (int_arg(argv[++i], 1, 1024, &threads)) return usage("--threads needs an integer >= 1");
        } else if (a[0] != '-' && !text && !strcmp(cmd, "bench")) text = a;
        else {
            char msg[256];
            snprintf(msg, sizeof msg, "unknown or incomplete option '%s'", a);
            return usage(msg);
        }
    }
    if (!tok_path) return usage("--tokenizer FILE is required");
    int known = !strcmp(cmd, "encode") || !strcmp(cmd, "decode") || !strcmp(cmd, "prompt") || !strcmp(cmd, "info") ||
                !strcmp(cmd, "bench");
    if (!known) return usage("unknown command");
    if (!strcmp(cmd, "bench") && !text) return usage("bench needs a TEXTFILE");

    hb_err err;
    hb_err_clear(&err);
    hb_tokenizer *t;
    if (hb_tok_load(tok_path, &t, &err)) return fail(&err);
    int rc = 0;
    if (!strcmp(cmd, "info")) {
        char buf[1024];
        printf("%s\n", hb_tok_describe(t, buf, sizeof buf));
    } else if (!strcmp(cmd, "bench")) {
        rc = hb_tok_run_bench(t, text, ids_out, (int)threads, stdout, &err);
    } else {
        FILE *in = input ? fopen(input, "rb") : stdin;
        if (!in) {
            hb_err_errno(&err, HB_EIO, input, "cannot open");
            hb_tok_free(t);
            return fail(&err);
        }
        const char *name = input ? input : "<stdin>";
        if (!strcmp(cmd, "encode")) rc = hb_tok_run_encode(t, in, name, stdout, bos, eos, pieces, &err);
        else if (!strcmp(cmd, "decode")) rc = hb_tok_run_decode(t, in, name, stdout, &err);
        else {
            hb_prompt_opts o = {(int32_t)max_length, (int32_t)visual, no_eos};
            rc = hb_prompt_run(t, in, name, stdout, &o, &err);
        }
        if (input) fclose(in);
    }
    if (!rc && fflush(stdout)) rc = hb_err_errno(&err, HB_EIO, "<stdout>", "write failed");
    hb_tok_free(t);
    return rc ? fail(&err) : 0;
}

/* lib/text/tokenizer_cli.c — the line-oriented loops behind hb-tok (encode, decode, prompt, bench), kept in the
 * library so the main stays thin and tests can drive them on memory streams.
 *
 * Dependencies: text/tokenizer.h, text/prompt.h, core/core.h (hb_buf, hb_now), OpenMP (bench --threads).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "text/prompt.h"
#include "text/tokenizer.h"

static int line_error(hb_err *err, const char *name, long long line, const hb_err *inner) {
    char reason[1024];
    snprintf(reason, sizeof reason, "%s", inner->reason);
    if (inner->offset >= 0)
        return hb_err_set(err, inner->code, name, HB_NOPOS, HB_NOPOS, "line %lld, column %lld: %s", line, inner->offset + 1,
                          reason);
    return hb_err_set(err, inner->code, name, HB_NOPOS, HB_NOPOS, "line %lld: %s", line, reason);
}

static int flush(hb_buf *b, FILE *out, hb_err *err) {
    if (b->len && fwrite(b->data, 1, b->len, out) != b->len) return hb_err_errno(err, HB_EIO, "<output>", "write failed");
    b->len = 0;
    return 0;
}

static void put_ids(hb_buf *b, const int32_t *ids, size_t n) {
    hb_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        char tmp[16];
        int k = snprintf(tmp, sizeof tmp, i ? ",%d" : "%d", ids[i]);
        hb_buf_append(b, tmp, (size_t)k);
    }
    hb_buf_putc(b, ']');
}

/* One output line for one input line [line, line + n) (no terminator) appended to ob; on bad input an error in e,
 * which each_line reports with the line number. */
typedef int (*line_fn)(void *ctx, const char *line, size_t n, hb_buf *ob, hb_err *e);

/* The loop shared by encode, decode and prompt: every line of in through fn, output written in 64 KiB pieces; stops
 * at the first bad line ("NAME: line N[, column C]: reason"). */
static int each_line(FILE *in, const char *name, FILE *out, line_fn fn, void *ctx, hb_err *err) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long long ln = 0;
    int rc = 0;
    hb_buf ob = {0};
    hb_err e;
    while ((n = getline(&line, &cap, in)) >= 0) {
        ln++;
        size_t l = (size_t)n;
        if (l && line[l - 1] == '\n') l--;
        if ((rc = fn(ctx, line, l, &ob, &e))) {
            rc = line_error(err, name, ln, &e);
            break;
        }
        if (ob.len > (1u << 16) && (rc = flush(&ob, out, err))) break;
    }
    if (!rc && ferror(in)) rc = hb_err_errno(err, HB_EIO, name, "read failed");
    if (!rc) rc = flush(&ob, out, err);
    free(line);
    hb_buf_free(&ob);
    return rc;
}

typedef struct {
    const hb_tokenizer *t;
    hb_tok_scratch *s;
    hb_buf text;
    hb_tok_ids ids;
    int bos, eos, pieces;
    const hb_prompt_opts *o;
    hb_prompt_enc enc;
} line_ctx;

static int encode_line(void *ctx, const char *line, size_t n, hb_buf *ob, hb_err *e) {
    line_ctx *c = ctx;
    int rc = hb_tok_parse_json_string(line, n, &c->text, e);
    if (rc) return rc;
    c->ids.n = 0;
    if (c->bos) hb_tok_ids_push(&c->ids, hb_tok_bos(c->t));
    hb_tok_encode(c->t, c->s, c->text.data ? (const char *)c->text.data : "", c->text.len, &c->ids);
    if (c->eos) hb_tok_ids_push(&c->ids, hb_tok_eos(c->t));
    if (c->pieces) {
        hb_buf_putc(ob, '[');
        for (size_t i = 0; i < c->ids.n; i++) {
            size_t l;
            const char *p = hb_tok_piece(c->t, c->ids.ids[i], &l);
            if (i) hb_buf_putc(ob, ',');
            hb_buf_put_json_str(ob, p, l);
        }
        hb_buf_putc(ob, ']');
    } else {
        put_ids(ob, c->ids.ids, c->ids.n);
    }
    hb_buf_putc(ob, '\n');
    return 0;
}

int hb_tok_run_encode(const hb_tokenizer *t, FILE *in, const char *name, FILE *out, int bos, int eos, int pieces,
                      hb_err *err) {
    if (bos && hb_tok_bos(t) < 0)
        return hb_err_set(err, HB_EUNSUPPORTED, name, HB_NOPOS, HB_NOPOS, "--bos: the tokenizer has no <s> piece");
    if (eos && hb_tok_eos(t) < 0)
        return hb_err_set(err, HB_EUNSUPPORTED, name, HB_NOPOS, HB_NOPOS, "--eos: the tokenizer has no </s> piece");
    line_ctx c = {.t = t, .s = hb_tok_scratch_new(), .bos = bos, .eos = eos, .pieces = pieces};
    int rc = each_line(in, name, out, encode_line, &c, err);
    hb_buf_free(&c.text);
    hb_tok_ids_free(&c.ids);
    hb_tok_scratch_free(c.s);
    return rc;
}

static int decode_line(void *ctx, const char *line, size_t n, hb_buf *ob, hb_err *e) {
    line_ctx *c = ctx;
    c->text.len = 0;
    int rc = hb_tok_parse_json_ids(line, n, &c->ids, e);
    if (!rc) rc = hb_tok_decode(c->t, c->ids.ids, c->ids.n, &c->text, e);
    if (rc) return rc;
    hb_buf_put_json_str(ob, c->text.data ? (const char *)c->text.data : "", c->text.len);
    hb_buf_putc(ob, '\n');
    return 0;
}

int hb_tok_run_decode(const hb_tokenizer *t, FILE *in, const char *name, FILE *out, hb_err *err) {
    line_ctx c = {.t = t};
    int rc = each_line(in, name, out, decode_line, &c, err);
    hb_buf_free(&c.text);
    hb_tok_ids_free(&c.ids);
    return rc;
}

static int prompt_line(void *ctx, const char *line, size_t n, hb_buf *ob, hb_err *e) {
    line_ctx *c = ctx;
    int rc = hb_tok_parse_json_string(line, n, &c->text, e);
    if (!rc)
        rc = hb_prompt_encode(c->t, c->s, c->text.data ? (const char *)c->text.data : "", c->text.len, c->o, &c->enc, e);
    if (rc) return rc;
    const hb_prompt_enc *enc = &c->enc;
    hb_buf_puts(ob, "{\"ids\":");
    put_ids(ob, enc->ids, enc->n);
    hb_buf_puts(ob, ",\"mask\":[");
    for (size_t i = 0; i < enc->n; i++) {
        if (i) hb_buf_putc(ob, ',');
        hb_buf_putc(ob, '0' + enc->mask[i]);
    }
    hb_buf_printf(ob, "],\"truncated\":%s,\"images\":%u,\"images_in_prompt\":%u,\"supervised\":%u}\n",
                  enc->truncated ? "true" : "false", enc->n_images, enc->n_images_in, enc->n_supervised);
    return 0;
}

int hb_prompt_run(const hb_tokenizer *t, FILE *in, const char *name, FILE *out, const hb_prompt_opts *o, hb_err *err) {
    line_ctx c = {.t = t, .s = hb_tok_scratch_new(), .o = o};
    int rc = each_line(in, name, out, prompt_line, &c, err);
    hb_buf_free(&c.text);
    hb_prompt_enc_free(&c.enc);
    hb_tok_scratch_free(c.s);
    return rc;
}

int hb_tok_run_bench(const hb_tokenizer *t, const char *path, const char *ids_out, int threads, FILE *report,
                     hb_err *err) {
    uint8_t *data;
    size_t len;
    int rc = hb_file_read_all(path, &data, &len, err);
    if (rc) return rc;
    /* lines: [st[i], en[i]) without the '\n' */
    size_t nl = 0, capl = 1024;
    size_t *st = hb_xmalloc(capl * sizeof *st), *en = hb_xmalloc(capl * sizeof *en);
    for (size_t i = 0; i < len;) {
        const uint8_t *q = memchr(data + i, '\n', len - i);
        size_t e = q ? (size_t)(q - data) : len;
        if (nl == capl) {
            capl *= 2;
            st = hb_xrealloc(st, capl * sizeof *st);
            en = hb_xrealloc(en, capl * sizeof *en);
        }
        st[nl] = i, en[nl++] = e;
        i = e + 1;
    }
    if (threads < 1) threads = 1;
    hb_tok_ids *per = hb_xcalloc((size_t)threads, sizeof *per);
    size_t *count = hb_xcalloc(nl + 1, sizeof *count), *where = hb_xcalloc(nl + 1, sizeof *where);
    int *owner = hb_xcalloc(nl + 1, sizeof *owner);
    double t0 = hb_now();
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
        int me = omp_get_thread_num();
#else
        int me = 0;
#endif
        hb_tok_scratch *s = hb_tok_scratch_new();
#pragma omp for schedule(static)
        for (size_t i = 0; i < nl; i++) {
            owner[i] = me;
            where[i] = per[me].n;
            count[i] = hb_tok_encode(t, s, (const char *)data + st[i], en[i] - st[i], &per[me]);
        }
        hb_tok_scratch_free(s);
    }
    double dt = hb_now() - t0;
    size_t tokens = 0;
    for (int k = 0; k < threads; k++) tokens += per[k].n;
    fprintf(report, "hb-tok bench: %zu lines, %zu bytes, %zu tokens, %d thread%s, %.3f s, %.2f MB/s\n", nl, len, tokens,
            threads, threads == 1 ? "" : "s", dt, dt > 0 ? (double)len / dt / 1e6 : 0.0);
    if (ids_out) {
        /* per line: int32 count, then the ids (little-endian host order) */
        hb_buf b = {0};
        for (size_t i = 0; i < nl; i++) {
            int32_t c = (int32_t)count[i];
            hb_buf_append(&b, &c, 4);
            hb_buf_append(&b, per[owner[i]].ids + where[i], count[i] * 4);
        }
        rc = hb_write_file_atomic(ids_out, b.data, b.len, err);
        hb_buf_free(&b);
    }
    for (int k = 0; k < threads; k++) hb_tok_ids_free(&per[k]);
    free(per);
    free(count);
    free(where);
    free(owner);
    free(st);
    free(en);
    free(data);
    return rc;
}

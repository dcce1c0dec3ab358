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

/* Strip the line terminator; returns the length. */
static size_t chomp(char *line, ssize_t n) {
    size_t l = (size_t)n;
    if (l && line[l - 1] == '\n') l--;
    return l;
}

int hb_tok_run_encode(const hb_tokenizer *t, FILE *in, const char *name, FILE *out, int bos, int eos, int pieces,
                      hb_err *err) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long long ln = 0;
    int rc = 0;
    hb_buf text = {0}, ob = {0};
    hb_tok_ids ids = {0};
    hb_tok_scratch *s = hb_tok_scratch_new();
    hb_err e;
    while ((n = getline(&line, &cap, in)) >= 0) {
        ln++;
        if ((rc = hb_tok_parse_json_string(line, chomp(line, n), &text, &e))) {
            rc = line_error(err, name, ln, &e);
            break;
        }
        ids.n = 0;
        if (bos) {
            if (hb_tok_bos(t) < 0) {
                rc = hb_err_set(err, HB_EUNSUPPORTED, name, HB_NOPOS, HB_NOPOS, "--bos: the tokenizer has no <s> piece");
                break;
            }
            hb_tok_ids_push(&ids, hb_tok_bos(t));
        }
        hb_tok_encode(t, s, text.data ? (const char *)text.data : "", text.len, &ids);
        if (eos) {
            if (hb_tok_eos(t) < 0) {
                rc = hb_err_set(err, HB_EUNSUPPORTED, name, HB_NOPOS, HB_NOPOS, "--eos: the tokenizer has no </s> piece");
                break;
            }
            hb_tok_ids_push(&ids, hb_tok_eos(t));
        }
        if (pieces) {
            hb_buf_putc(&ob, '[');
            for (size_t i = 0; i < ids.n; i++) {
                size_t l;
                const char *p = hb_tok_piece(t, ids.ids[i], &l);
                if (i) hb_buf_putc(&ob, ',');
                hb_buf_put_json_str(&ob, p, l);
            }
            hb_buf_putc(&ob, ']');
        } else {
            put_ids(&ob, ids.ids, ids.n);
        }
        hb_buf_putc(&ob, '\n');
        if (ob.len > (1u << 16) && (rc = flush(&ob, out, err))) break;
    }
    if (!rc && ferror(in)) rc = hb_err_errno(err, HB_EIO, name, "read failed");
    if (!rc) rc = flush(&ob, out, err);
    free(line);
    hb_buf_free(&text);
    hb_buf_free(&ob);
    hb_tok_ids_free(&ids);
    hb_tok_scratch_free(s);
    return rc;
}

int hb_tok_run_decode(const hb_tokenizer *t, FILE *in, const char *name, FILE *out, hb_err *err) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long long ln = 0;
    int rc = 0;
    hb_buf text = {0}, ob = {0};
    hb_tok_ids ids = {0};
    hb_err e;
    while ((n = getline(&line, &cap, in)) >= 0) {
        ln++;
        if ((rc = hb_tok_parse_json_ids(line, chomp(line, n), &ids, &e)) || (rc = hb_tok_decode(t, ids.ids, ids.n, &text, &e))) {
            rc = line_error(err, name, ln, &e);
            break;
        }
        hb_buf_put_json_str(&ob, text.data ? (const char *)text.data : "", text.len);
        hb_buf_putc(&ob, '\n');
        text.len = 0;
        if (ob.len > (1u << 16) && (rc = flush(&ob, out, err))) break;
    }
    if (!rc && ferror(in)) rc = hb_err_errno(err, HB_EIO, name, "read failed");
    if (!rc) rc = flush(&ob, out, err);
    free(line);
    hb_buf_free(&text);
    hb_buf_free(&ob);
    hb_tok_ids_free(&ids);
    return rc;
}

int hb_prompt_run(const hb_tokenizer *t, FILE *in, const char *name, FILE *out, const hb_prompt_opts *o, hb_err *err) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long long ln = 0;
    int rc = 0;
    hb_buf text = {0}, ob = {0};
    hb_prompt_enc enc = {0};
    hb_tok_scratch *s = hb_tok_scratch_new();
    hb_err e;
    while ((n = getline(&line, &cap, in)) >= 0) {
        ln++;
        if ((rc = hb_tok_parse_json_string(line, chomp(line, n), &text, &e)) ||
            (rc = hb_prompt_encode(t, s, text.data ? (const char *)text.data : "", text.len, o, &enc, &e))) {
            rc = line_error(err, name, ln, &e);
            break;
        }
        hb_buf_puts(&ob, "{\"ids\":");
        put_ids(&ob, enc.ids, enc.n);
        hb_buf_puts(&ob, ",\"mask\":[");
        for (size_t i = 0; i < enc.n; i++) {
            if (i) hb_buf_putc(&ob, ',');
            hb_buf_putc(&ob, '0' + enc.mask[i]);
        }
        hb_buf_printf(&ob, "],\"truncated\":%s,\"images\":%u,\"images_in_prompt\":%u,\"supervised\":%u}\n",
                      enc.truncated ? "true" : "false", enc.n_images, enc.n_images_in, enc.n_supervised);
        if (ob.len > (1u << 16) && (rc = flush(&ob, out, err))) break;
    }
    if (!rc && ferror(in)) rc = hb_err_errno(err, HB_EIO, name, "read failed");
    if (!rc) rc = flush(&ob, out, err);
    free(line);
    hb_buf_free(&text);
    hb_buf_free(&ob);
    hb_prompt_enc_free(&enc);
    hb_tok_scratch_free(s);
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

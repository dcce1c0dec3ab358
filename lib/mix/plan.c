/* lib/mix/plan — generate the stream and write the mix plan (docs/mix-plan.md §1 format, §4 order, §6 packing).
 *
 * The stream is produced in chunks of CHUNK positions, so memory does not grow with its length:
 *   1. the scheduler (sched.c) names the source of each position (sequential, cheap);
 *   2. each position's sample is resolved in parallel: the q-th sample of source i is
 *      perm_{i, q / N_i}(q mod N_i), then (shard, record) by the source's shard offsets. A pure function of
 *      (seed, source, q), so any number of threads writes the same bytes;
 *   3. entries are written in order (or go through the packer), hashed as they go.
 * A dry run does all of it except writing, so it reports the same plan hash.
 *
 * Dependencies: mix/mix.h (everything), core/core.h (hb_afile, hb_hasher, hb_progress, hb_buf), <omp.h>. */
#include "mix/mix.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_MAGIC "HBMIXPL\0"
#define PLAN_END "HBMIXEND"
#define CHUNK (1u << 18)

typedef __int128 i128;

/* ---- output: hashed, written only when a file is open ---- */
typedef struct {
    hb_hasher *h;
    hb_afile f;
    int open;
    hb_err *err;
} sink;

static int sink_put(sink *s, const void *p, size_t n) {
    hb_hasher_update(s->h, p, n);
    return s->open ? hb_afile_write(&s->f, p, n, s->err) : 0;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int b = 0; b < 4; b++) p[b] = (uint8_t)(v >> 8 * b);
}

static void build_header(const hb_mix_spec *spec, const hb_mix_input *in, const hb_mix_result *res,
                         const char *shards_ref, hb_buf *b) {
    size_t ref_len = strlen(shards_ref);
    uint32_t flags = (spec->pack ? 1u : 0u) | (spec->balance == HB_MIX_BALANCE_BATCH ? 2u : 0u);
    hb_buf_append(b, PLAN_MAGIC, 8);
    hb_buf_put_u32(b, 1);
    hb_buf_put_u32(b, flags);
    hb_buf_put_u64(b, 0); /* header_size, patched below */
    hb_buf_put_u64(b, spec->seed);
    hb_buf_put_u64(b, res->samples);
    hb_buf_put_u64(b, spec->batch);
    hb_buf_put_u32(b, (uint32_t)in->n_sources);
    hb_buf_put_u32(b, (uint32_t)in->n_shards);
    hb_buf_put_u32(b, (uint32_t)spec->unit);
    hb_buf_put_u32(b, spec->pack ? spec->pack_tokens : 0);
    hb_buf_put_u32(b, spec->pack ? spec->pack_window : 0);
    hb_buf_put_u32(b, (uint32_t)ref_len);
    hb_buf_append(b, shards_ref, ref_len);
    for (size_t i = 0; i < in->n_sources; i++) {
        size_t l = strlen(in->sources[i].name);
        hb_buf_put_u16(b, (uint16_t)l);
        hb_buf_append(b, in->sources[i].name, l);
        hb_buf_put_u64(b, res->rows[i].samples);
        hb_buf_put_u64(b, in->sources[i].n);
    }
    for (size_t i = 0; i < in->n_shards; i++) {
        const hb_mix_shard *sh = &in->shards[i];
        size_t l = strlen(sh->file);
        hb_buf_put_u32(b, sh->source);
        hb_buf_put_u64(b, sh->n);
        hb_buf_put_u64(b, sh->xxh3);
        hb_buf_put_u16(b, (uint16_t)l);
        hb_buf_append(b, sh->file, l);
    }
    while (b->len % 8) hb_buf_putc(b, 0);
    for (int k = 0; k < 8; k++) b->data[16 + k] = (uint8_t)((uint64_t)b->len >> 8 * k);
}

/* ---- packing: first fit over the `window` oldest open sequences ---- */
typedef struct {
    uint64_t used;
    hb_buf ents; /* 8 bytes per entry, as written */
} bin;

typedef struct {
    uint32_t cap, window;
    size_t open;
    bin *bins;
    FILE *index;       /* first entry of each sequence (u64), appended after the entries */
    uint64_t written;  /* entries written */
    uint64_t seqs, tokens;
} packer;

static int pack_close(packer *pk, size_t b, sink *out) {
    bin x = pk->bins[b];
    memmove(&pk->bins[b], &pk->bins[b + 1], (pk->open - b - 1) * sizeof *pk->bins);
    pk->open--;
    uint8_t off[8];
    for (int k = 0; k < 8; k++) off[k] = (uint8_t)(pk->written >> 8 * k);
    if (fwrite(off, 1, 8, pk->index) != 8)
        return hb_err_errno(out->err, HB_EIO, NULL, "cannot write the temporary sequence index");
    pk->written += x.ents.len / 8;
    pk->seqs++;
    pk->tokens += x.used < pk->cap ? x.used : pk->cap;
    int code = sink_put(out, x.ents.data, x.ents.len);
    hb_buf_free(&x.ents);
    return code;
}

static int pack_feed(packer *pk, const uint8_t ent[8], uint32_t len, sink *out) {
    uint64_t l = len ? len : 1; /* an empty sample still takes a place */
    for (size_t b = 0; b < pk->open; b++) {
        if (pk->bins[b].used + l > pk->cap) continue;
        pk->bins[b].used += l;
        hb_buf_append(&pk->bins[b].ents, ent, 8);
        return pk->bins[b].used == pk->cap ? pack_close(pk, b, out) : 0;
    }
    int code;
    if (pk->open == pk->window && (code = pack_close(pk, 0, out))) return code;
    bin *nb = &pk->bins[pk->open++];
    memset(nb, 0, sizeof *nb);
    nb->used = l;
    hb_buf_append(&nb->ents, ent, 8);
    return l >= pk->cap ? pack_close(pk, pk->open - 1, out) : 0;
}

/* ---- per-position bookkeeping: prefix deviation and per-batch counts ---- */
typedef struct {
    size_t n;
    uint64_t N, t, B, full_end;
    const hb_mix_row *rows;
    uint64_t *count, *in_batch;
    i128 worst; /* max |c_i(t) N - t n_i| */
} tally;

static void tally_add(tally *ty, uint32_t i, hb_mix_result *res) {
    uint64_t k = ++ty->count[i], t = ++ty->t, ni = ty->rows[i].samples;
    i128 before = (i128)(k - 1) * ty->N - (i128)(t - 1) * ni, after = (i128)k * ty->N - (i128)t * ni;
    if (before < 0) before = -before;
    if (after < 0) after = -after;
    if (before > ty->worst) ty->worst = before;
    if (after > ty->worst) ty->worst = after;
    if (!ty->B) return;
    ty->in_batch[i]++;
    if (t % ty->B == 0 && t <= ty->full_end) {
        for (size_t s = 0; s < ty->n; s++) {
            hb_mix_row *r = &res->rows[s];
            uint32_t c = (uint32_t)ty->in_batch[s];
            if (c < r->batch_min) r->batch_min = c;
            if (c > r->batch_max) r->batch_max = c;
            ty->in_batch[s] = 0;
        }
    }
}

int hb_mix_generate(const hb_mix_spec *spec, const hb_mix_input *in, hb_mix_result *res, const char *plan_path,
                    const char *shards_ref, int jobs, hb_err *err) {
    size_t n = in->n_sources;
    if (jobs < 1) jobs = 1;
    uint64_t *counts = hb_xcalloc(n, sizeof *counts), *key = hb_xcalloc(n, sizeof *key);
    for (size_t i = 0; i < n; i++) {
        counts[i] = res->rows[i].samples;
        key[i] = hb_perm_source_key(spec->seed, in->sources[i].name);
        res->rows[i].batch_min = UINT32_MAX;
        res->rows[i].batch_max = 0;
    }
    hb_mix_sched *sched = NULL;
    sink out = {hb_hasher_new(0), {0}, 0, err};
    packer pk = {0};
    tally ty = {n, res->samples, 0, spec->pack ? 0 : spec->batch, 0, res->rows, hb_xcalloc(n, 8), hb_xcalloc(n, 8), 0};
    if (ty.B) ty.full_end = res->samples / ty.B * ty.B;
    uint32_t *src = hb_xmalloc(CHUNK * sizeof *src), *shard = hb_xmalloc(CHUNK * sizeof *shard);
    uint32_t *tok = hb_xmalloc(CHUNK * sizeof *tok);
    uint64_t *pos = hb_xmalloc(CHUNK * sizeof *pos), *rec = hb_xmalloc(CHUNK * sizeof *rec);
    uint8_t *ents = hb_xmalloc(CHUNK * 8);
    hb_buf head = {0};
    build_header(spec, in, res, shards_ref, &head);
    hb_progress *prog = NULL;
    int code = hb_mix_sched_new(&sched, n, counts, spec->balance, spec->batch, err);
    if (!code && plan_path) {
        if (!(code = hb_afile_open(&out.f, plan_path, err))) out.open = 1;
    }
    if (!code && spec->pack) {
        pk.cap = spec->pack_tokens;
        pk.window = spec->pack_window ? spec->pack_window : 1;
        pk.bins = hb_xcalloc(pk.window, sizeof *pk.bins);
        if (!(pk.index = tmpfile())) code = hb_err_errno(err, HB_EIO, NULL, "cannot create a temporary file");
    }
    if (!code) code = sink_put(&out, head.data, head.len);
    if (!code) prog = hb_progress_start(plan_path ? "hb-mix: writing plan" : "hb-mix: planning", res->samples, "samples");
    for (uint64_t at = 0; !code && at < res->samples; at += CHUNK) {
        size_t m = res->samples - at < CHUNK ? (size_t)(res->samples - at) : CHUNK;
        if ((code = hb_mix_sched_next(sched, src, m, err))) break;
        for (size_t s = 0; s < m; s++) {
            pos[s] = ty.count[src[s]];
            tally_add(&ty, src[s], res);
        }
#pragma omp parallel for num_threads(jobs) schedule(static)
        for (size_t s = 0; s < m; s++) {
            uint32_t i = src[s];
            uint64_t Ni = in->sources[i].n;
            hb_perm p;
            hb_perm_for_key(&p, Ni, key[i], pos[s] / Ni);
            uint64_t j = hb_perm_at(&p, pos[s] % Ni);
            hb_mix_input_locate(in, i, j, &shard[s], &rec[s]);
            put_u32(ents + 8 * s, shard[s]);
            put_u32(ents + 8 * s + 4, (uint32_t)rec[s]);
            if (spec->pack) tok[s] = hb_le32(in->shards[shard[s]].lens + rec[s] * HB_MIX_LEN_BYTES);
        }
        if (!spec->pack) code = sink_put(&out, ents, 8 * m);
        for (size_t s = 0; spec->pack && s < m && !code; s++) code = pack_feed(&pk, ents + 8 * s, tok[s], &out);
        hb_progress_add(prog, m);
    }
    while (!code && pk.open) code = pack_close(&pk, 0, &out);
    res->sequences = spec->pack ? pk.seqs : res->samples;
    res->packed_tokens = pk.tokens;
    if (!code && spec->pack) { /* the sequence index: first entry of each sequence, then n_samples */
        uint8_t buf[1 << 16], last[8];
        for (int k = 0; k < 8; k++) last[k] = (uint8_t)(res->samples >> 8 * k);
        if (fwrite(last, 1, 8, pk.index) != 8 || fflush(pk.index) || fseek(pk.index, 0, SEEK_SET))
            code = hb_err_errno(err, HB_EIO, NULL, "cannot rewind the temporary sequence index");
        size_t got;
        while (!code && (got = fread(buf, 1, sizeof buf, pk.index)) > 0) code = sink_put(&out, buf, got);
    }
    if (!code) { /* trailer: n_samples, n_sequences, plan hash (of every byte before it), end magic */
        uint8_t tr[32];
        for (int k = 0; k < 8; k++) tr[k] = (uint8_t)(res->samples >> 8 * k);
        for (int k = 0; k < 8; k++) tr[8 + k] = (uint8_t)(res->sequences >> 8 * k);
        if (!(code = sink_put(&out, tr, 16))) {
            res->plan_hash = hb_hasher_digest(out.h);
            for (int k = 0; k < 8; k++) tr[16 + k] = (uint8_t)(res->plan_hash >> 8 * k);
            memcpy(tr + 24, PLAN_END, 8);
            if (out.open && !(code = hb_afile_write(&out.f, tr + 16, 16, err))) {
                code = hb_afile_commit(&out.f, err);
                out.open = 0;
            }
        }
    }
    hb_progress_done(prog);
    if (out.open) hb_afile_abort(&out.f);
    res->max_prefix_dev = res->samples ? (double)ty.worst / (double)res->samples : 0;
    for (size_t i = 0; i < n; i++)
        if (res->rows[i].batch_min == UINT32_MAX) res->rows[i].batch_min = 0;
    for (size_t b = 0; b < pk.open; b++) hb_buf_free(&pk.bins[b].ents);
    free(pk.bins);
    if (pk.index) fclose(pk.index);
    hb_hasher_free(out.h);
    hb_mix_sched_free(sched);
    hb_buf_free(&head);
    free(counts), free(key), free(ty.count), free(ty.in_batch);
    free(src), free(shard), free(tok), free(pos), free(rec), free(ents);
    return code;
}

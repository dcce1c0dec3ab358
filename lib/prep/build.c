/* Building the planned samples in batches: either write their render inputs as JSON lines (inputs_only) or ingest
 * their images, render and tokenize them on -j threads (text.c) and write the records in plan order, so the shards
 * are byte-identical for any thread count; streaming sources hand full batches to a builder thread.
 * Dependencies: prep_impl.h (hb_psrc, hb_pbuf), text.c (hb_prep_build_sample), shard/shard.h, <omp.h> (the
 * workers), <pthread.h> (the builder thread). */
#include "prep_impl.h"

#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The first item of a sample names its image (all items of a group share it). */
static const hb_pitem *first_item(const hb_pbuf *b, const hb_psample *ps) { return &b->items[b->order[ps->first]]; }

static void put_input_json(const hb_psrc *s, const hb_pbuf *pb, const hb_psample *ps, hb_buf *b) {
    const hb_pitem *f = first_item(pb, ps);
    hb_buf_puts(b, "{\"id\": ");
    hb_buf_put_json_str(b, ps->id, strlen(ps->id));
    hb_buf_puts(b, ", \"dataset\": ");
    hb_buf_put_json_str(b, s->dataset, strlen(s->dataset));
    hb_buf_puts(b, ", \"source\": ");
    hb_buf_put_json_str(b, s->src->name, strlen(s->src->name));
    hb_buf_puts(b, ", \"file\": ");
    hb_buf_put_json_str(b, f->file, strlen(f->file));
    hb_buf_puts(b, ", \"records\": [");
    for (uint32_t i = 0; i < ps->n; i++)
        hb_buf_printf(b, "%s%lld", i ? ", " : "", (long long)pb->items[pb->order[ps->first + i]].record);
    hb_buf_puts(b, "], \"image\": ");
    if (f->image) hb_buf_put_json_str(b, f->image, strlen(f->image));
    else hb_buf_puts(b, "false");
    if (f->n_conv) {
        hb_buf_puts(b, ", \"conversations\": [");
        for (uint32_t t = 0; t < f->n_conv; t++) {
            hb_buf_printf(b, "%s{\"from\": \"%s\", \"value\": ", t ? ", " : "", f->conv[t].role == HB_ROLE_HUMAN ? "human" : "gpt");
            hb_buf_put_json_str(b, f->conv[t].text, f->conv[t].len);
            hb_buf_puts(b, "}");
        }
        hb_buf_puts(b, "]");
    } else {
        hb_buf_puts(b, ", \"examples\": [");
        for (uint32_t i = 0; i < ps->n; i++) {
            const hb_pitem *it = &pb->items[pb->order[ps->first + i]];
            hb_buf_puts(b, i ? ", {" : "{");
            for (uint32_t k = 0; k < it->ex.n_fields; k++) {
                hb_buf_puts(b, k ? ", " : "");
                hb_buf_put_json_str(b, it->ex.fields[k].key, strlen(it->ex.fields[k].key));
                hb_buf_puts(b, ": ");
                hb_buf_put_json_str(b, it->ex.fields[k].value, strlen(it->ex.fields[k].value));
            }
            if (it->ex.n_options) {
                hb_buf_puts(b, it->ex.n_fields ? ", \"options\": [" : "\"options\": [");
                for (uint32_t k = 0; k < it->ex.n_options; k++) {
                    hb_buf_puts(b, k ? ", " : "");
                    hb_buf_put_json_str(b, it->ex.options[k], strlen(it->ex.options[k]));
                }
                hb_buf_printf(b, "], \"answer_idx\": %d", it->ex.answer_idx);
            }
            hb_buf_printf(b, "%s\"record\": %lld}", it->ex.n_fields || it->ex.n_options ? ", " : "", (long long)it->record);
        }
        hb_buf_puts(b, "]");
    }
    if (ps->dedup_json) hb_buf_printf(b, ", \"choices\": {\"dedup\": %s}", ps->dedup_json);
    hb_buf_puts(b, "}\n");
}

static void count_sample(hb_psrc *s, const hb_sample *smp) {
    hb_pstats *t = &s->st;
    t->samples_written++;
    for (uint32_t i = 0; i < smp->n_turns; i++) t->turns += smp->turns[i].role == HB_ROLE_AI; /* exchanges */
    t->tokens += smp->n_tokens;
    uint32_t sup = 0, img = 0;
    for (uint32_t i = 0; i < smp->n_tokens; i++) {
        sup += smp->loss_mask[i];
        img += smp->tokens[i] == HB_IMAGE_TOKEN;
    }
    t->supervised += sup;
    t->image_tokens += img;
    if (smp->n_tokens > t->max_len) t->max_len = smp->n_tokens;
    int bin = 0;
    while (bin + 1 < HB_PREP_HIST_BINS && smp->n_tokens >= (64u << bin)) bin++;
    t->hist[bin]++;
}

static void defer_reject(hb_pbuf *b, const hb_pitem *f, const char *reason, const char *cls) {
    if (b->n_rej == b->cap_rej) {
        b->cap_rej = b->cap_rej ? b->cap_rej * 2 : 64;
        b->rej = hb_xrealloc(b->rej, b->cap_rej * sizeof *b->rej);
    }
    b->rej[b->n_rej++] = (hb_prej){f->file, f->record, f->offset, hb_xstrdup(reason), hb_xstrdup(cls)};
}

int hb_psrc_flush(hb_psrc *s, hb_pbuf *b, hb_err *err) {
    int rc = 0;
    hb_prep *p = s->p;
    int jobs = p->o->jobs > 0 ? p->o->jobs : 1;
    if (!p->o->inputs_only && !p->workers) { /* once per run: the tokenizer caches stay warm across batches */
        p->workers = hb_xcalloc((size_t)jobs, sizeof *p->workers);
        p->results = hb_xcalloc(HB_PREP_BATCH, sizeof *p->results);
        for (int k = 0; k < jobs; k++) hb_prep_worker_init(p, &p->workers[k]);
    }
    hb_prep_worker *w = p->workers;
    hb_prep_result *res = p->results;
    hb_buf line = {0};
    hb_progress *prog = NULL;
    if (s->grouped && b->n_samples > HB_PREP_BATCH) { /* grouped sources build everything after reading */
        char label[80];
        snprintf(label, sizeof label, "%s (samples)", s->src->name);
        prog = hb_progress_start(label, b->n_samples, "samples");
    }
    for (size_t b0 = 0; b0 < b->n_samples && !rc; b0 += HB_PREP_BATCH) {
        size_t b1 = b0 + HB_PREP_BATCH < b->n_samples ? b0 + HB_PREP_BATCH : b->n_samples;
        if (hb_interrupted()) {
            rc = hb_err_set(err, HB_EINTR, NULL, HB_NOPOS, HB_NOPOS, "interrupted (signal %d)", hb_interrupted());
            break;
        }
        if (s->p->o->inputs_only) {
            for (size_t i = b0; i < b1 && !rc; i++) {
                hb_buf_clear(&line);
                put_input_json(s, b, &b->samples[i], &line);
                rc = hb_afile_write(&s->inputs, line.data, line.len, err);
                s->st.samples_written++;
            }
            hb_progress_add(prog, b1 - b0);
            continue;
        }
        for (int k = 0; k < jobs; k++) hb_arena_reset(&w[k].arena); /* the previous batch is written */
#pragma omp parallel for num_threads(jobs) schedule(dynamic, 16)
        for (size_t i = b0; i < b1; i++) {
            hb_prep_result *r = &res[i - b0];
            memset(r, 0, sizeof *r);
            hb_prep_build_sample(s, b, &b->samples[i], &w[omp_get_thread_num()], r);
        }
        for (size_t i = b0; i < b1 && !rc; i++) {
            hb_prep_result *r = &res[i - b0];
            const hb_psample *ps = &b->samples[i];
            const hb_pitem *f = first_item(b, ps);
            if (r->fatal) {
                *err = r->err;
                rc = err->code ? err->code : HB_EIO;
                break;
            }
            if (r->reason) {
                if (r->image_rejected) {
                    s->st.missing_image++;
                    if (!s->st.first_missing && !strcmp(r->cls, "image missing")) s->st.first_missing = hb_xstrdup(f->image);
                }
                else if (r->no_supervision) s->st.no_supervision++;
                else s->st.bad_sample++;
                defer_reject(b, f, r->reason, r->cls ? r->cls : "dropped");
                continue;
            }
            if (r->truncated) s->st.truncated++;
            count_sample(s, &r->sample);
            rc = hb_psrc_write_sample(s, &r->sample, err);
        }
        hb_progress_add(prog, b1 - b0);
    }
    hb_progress_done(prog);
    hb_buf_free(&line);
    return rc;
}

void hb_pbuf_reset(hb_pbuf *b) {
    for (size_t i = 0; i < b->n_rej; i++) free(b->rej[i].reason), free(b->rej[i].cls);
    b->n_rej = b->n_items = b->n_order = b->n_samples = b->planned = 0;
    b->pending_bytes = 0;
    hb_arena_reset(&b->arena);
}

void hb_pbuf_free(hb_pbuf *b) {
    hb_pbuf_reset(b);
    hb_arena_free(&b->arena);
    free(b->items);
    free(b->order);
    free(b->samples);
    free(b->rej);
    memset(b, 0, sizeof *b);
}

int hb_psrc_drain(hb_psrc *s, hb_pbuf *b, hb_err *err) {
    int rc = 0;
    for (size_t i = 0; i < b->n_rej && !rc; i++)
        rc = hb_psrc_drop(s, b->rej[i].file, b->rej[i].record, b->rej[i].offset, b->rej[i].reason, b->rej[i].cls, err);
    return rc;
}

/* ---- streaming: one batch is read while the previous one is built ----
 * The reading thread collects a batch (waits for it, writes its rejects) only when the next one is full or the
 * source ends, whatever -j is; with -j 1 the batch is built at once instead of on a thread. The rejects file and
 * every shard are therefore the same bytes for any thread count. */
static void *builder(void *arg) {
    hb_psrc *s = arg;
    hb_err_clear(&s->job_err);
    hb_psrc_plan(s, s->job);
    s->job_rc = hb_psrc_flush(s, s->job, &s->job_err);
    return NULL;
}

int hb_psrc_collect(hb_psrc *s, hb_err *err) {
    if (!s->job) return 0;
    if (s->job_thread) pthread_join(s->thread, NULL);
    hb_pbuf *b = s->job;
    s->job = NULL;
    int rc = hb_psrc_drain(s, b, err);
    if (s->job_rc) { /* a build failure (the image store, a shard write) outranks a --strict reject */
        *err = s->job_err;
        rc = s->job_rc;
    }
    hb_pbuf_reset(b);
    return rc;
}

int hb_psrc_submit(hb_psrc *s, hb_err *err) {
    int rc = hb_psrc_collect(s, err);
    if (rc) return rc;
    hb_pbuf *full = s->in;
    if (!full->n_items) return 0;
    s->in = full == &s->bufs[0] ? &s->bufs[1] : &s->bufs[0];
    s->job = full;
    s->job_thread = s->p->o->jobs > 1 && pthread_create(&s->thread, NULL, builder, s) == 0;
    if (!s->job_thread) builder(s);
    return 0;
}

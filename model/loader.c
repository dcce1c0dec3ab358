/* model/loader.c — the training data stream: plan -> samples -> micro-batches on a prefetch thread (model/loader.h).
 *
 * Dependencies:
 *   model/loader.h      the API
 *   mix/mix.h           the plan reader (sequences, samples, cursor)
 *   shard/shard.h       sample shards (hb_shard_get_sample)
 *   shard/imgstore.h    preprocessed pixels by content hash
 *   core/core.h         hb_err, hb_arena, paths
 *   <pthread.h>         the prefetch thread (one producer, one consumer, a ring of slots)
 *
 * Ring protocol: slot k of the stream lives in ring[k % n]. The producer owns a slot from the moment it is FREE
 * until it marks it READY; the consumer owns it from READY until its next hb_loader_next call, which frees it. A
 * producer error is delivered in a READY slot with err_code set, in stream order. */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mix/mix.h"
#include "model/loader.h"
#include "shard/imgstore.h"
#include "shard/shard.h"

enum { SLOT_FREE = 0, SLOT_READY = 1 };

typedef struct {
    int state;
    int32_t *ids, *labels; /* [micro_batch, max_tokens] while building; compacted to [batch, seq] when published */
    int64_t *lens;         /* real length of each sequence */
    float *pixels;         /* [max_images, 3, S, S] */
    const char **sid;      /* sample ids (in `names`) */
    hb_arena names;
    hb_microbatch mb;
    int err_code;
    hb_err err;
} slot_t;

struct hb_loader {
    hb_loader_opts o;
    hb_mix_plan *plan;
    char *plan_path, *shards_dir, *images_dir;
    size_t n_shards;
    hb_shard **shards;
    hb_imgstore *store; /* NULL when absent (then store_err says why, reported when an image is needed) */
    hb_err store_err;
    int64_t pix_per_image; /* 3·S·S */
    int64_t bytes;

    /* staging for one decoded sample (producer only) */
    hb_arena sample_arena;
    int32_t *st_ids, *st_labels;
    hb_hash128 *st_hashes;
    int64_t st_cap_images;
    uint8_t *hwc; /* one image from the store */
    int st_truncated;

    /* ring */
    int n_slots;
    slot_t *ring;
    pthread_t thread;
    int running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int finished; /* the producer has returned */
    int64_t first_step, end_step;
    uint64_t produced, consumed; /* slots */
    int holding;                 /* the consumer holds ring[(consumed - 1) % n] */
};

/* ---- one sequence ---- */
int hb_loader_sequence(const int32_t *tokens, const uint8_t *mask, int64_t n, int64_t n_images_in_sample,
                       int64_t max_tokens, int visual_tokens, int32_t *ids, int32_t *labels, int64_t *len,
                       int64_t *images, const char *sid, hb_err *err) {
    int64_t run = 0, placeholders = 0;
    for (int64_t t = 0; t <= n; t++) {
        int32_t id = t < n ? tokens[t] : 0;
        if (id == HB_IMAGE_TOKEN) {
            if (mask[t])
                return hb_err_set(err, HB_EFORMAT, sid, HB_NOPOS, HB_NOPOS,
                                  "an image placeholder at position %lld carries loss-mask 1", (long long)t);
            run++;
            continue;
        }
        if (run % visual_tokens)
            return hb_err_set(err, HB_EFORMAT, sid, HB_NOPOS, HB_NOPOS,
                              "a run of %lld image placeholders ending at position %lld is not a whole number of "
                              "images: the model takes %d visual tokens per image (were the shards compiled with "
                              "another visual_tokens?)",
                              (long long)run, (long long)t - 1, visual_tokens);
        placeholders += run;
        run = 0;
    }
    if (placeholders && !n_images_in_sample)
        return hb_err_set(err, HB_EFORMAT, sid, HB_NOPOS, HB_NOPOS,
                          "%lld image placeholders but no image: its source was compiled without images (hb-prep "
                          "--no-images, or `images: none` in the recipe); give the source its images and rerun "
                          "hb-prep, or leave it out of the mix",
                          (long long)placeholders);
    if (placeholders != n_images_in_sample * visual_tokens)
        return hb_err_set(err, HB_EFORMAT, sid, HB_NOPOS, HB_NOPOS,
                          "%lld image placeholders for %lld images: the model takes %d per image (were the shards "
                          "compiled with another visual_tokens?)",
                          (long long)placeholders, (long long)n_images_in_sample, visual_tokens);
    int64_t cut = n < max_tokens ? n : max_tokens;
    if (cut < n && cut > 0 && tokens[cut] == HB_IMAGE_TOKEN && tokens[cut - 1] == HB_IMAGE_TOKEN) {
        int64_t s = cut;
        while (s > 0 && tokens[s - 1] == HB_IMAGE_TOKEN) s--;
        cut = s + (cut - s) / visual_tokens * visual_tokens; /* keep the whole images of the run, drop the cut one */
    }
    int64_t ph = 0;
    for (int64_t t = 0; t < cut; t++) {
        ids[t] = tokens[t];
        labels[t] = mask[t] ? tokens[t] : -100;
        ph += tokens[t] == HB_IMAGE_TOKEN;
    }
    *len = cut;
    *images = ph / visual_tokens;
    return 0;
}

void hb_loader_pixels(const uint8_t *hwc, int S, const float mean[3], const float std[3], float *chw) {
    int64_t plane = (int64_t)S * S;
    for (int c = 0; c < 3; c++) {
        float m = mean[c], s = std[c];
        float *dst = chw + c * plane;
        for (int64_t i = 0; i < plane; i++) {
            float v = (float)hwc[i * 3 + c] / 255.0f; /* torchvision ToTensor */
            dst[i] = (v - m) / s;                     /* Normalize: sub then div, float32 */
        }
    }
}

/* ---- open ---- */
/* Open every shard the plan names in dir and check it is the version the plan was made from; the shards go to
 * out[i] (closed when out is NULL). */
static int open_plan_shards(const hb_mix_plan *plan, const char *plan_path, const char *dir, hb_shard **out,
                            hb_err *err) {
    char *recorded = hb_mix_plan_shards_path(plan), *here = hb_xstrdup(dir);
    hb_path_normalize(recorded);
    hb_path_normalize(here);
    int rc = 0;
    for (size_t i = 0; i < hb_mix_plan_n_shards(plan); i++) {
        const char *file = hb_mix_plan_shard_file(plan, i);
        char *path = hb_path_join(dir, file);
        hb_shard *s;
        if ((rc = hb_shard_open(&s, path, err))) {
            hb_err_prefix(err, "the plan %s names shard %s, which cannot be opened", plan_path, file);
            free(path);
            break;
        }
        char want[17], have[17];
        hb_hash64_hex(hb_mix_plan_shard_checksum(plan, i), want);
        hb_hash64_hex(hb_shard_checksum(s), have);
        if (strcmp(hb_shard_schema(s), HB_SCHEMA_SAMPLE))
            rc = hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, HB_NOPOS, "schema %s, not %s", hb_shard_schema(s),
                            HB_SCHEMA_SAMPLE);
        else if (hb_shard_count(s) != hb_mix_plan_shard_records(plan, i) || strcmp(want, have))
            rc = hb_err_set(err, HB_ECHECKSUM, path, HB_NOPOS, HB_NOPOS,
                            "the plan %s was made from another version of this shard (plan: %" PRIu64
                            " records, checksum %s; shard: %" PRIu64 " records, checksum %s): re-run hb-mix%s%s%s",
                            plan_path, hb_mix_plan_shard_records(plan, i), want, hb_shard_count(s), have,
                            strcmp(here, recorded) ? " on these shards, or use the shards it was made from (" : "",
                            strcmp(here, recorded) ? recorded : "", strcmp(here, recorded) ? ")" : "");
        free(path);
        if (out) out[i] = s;
        else hb_shard_close(s);
        if (rc) break;
    }
    free(recorded), free(here);
    return rc;
}

static int open_shards(hb_loader *L, hb_err *err) {
    L->n_shards = hb_mix_plan_n_shards(L->plan);
    L->shards = hb_xcalloc(L->n_shards ? L->n_shards : 1, sizeof *L->shards);
    return open_plan_shards(L->plan, L->o.plan, L->shards_dir, L->shards, err);
}

int hb_loader_check_plan(const char *plan, const char *shards, hb_err *err) {
    hb_mix_plan *p;
    int rc = hb_mix_plan_open(&p, plan, err);
    if (rc) return rc;
    char *dir = shards ? hb_xstrdup(shards) : hb_mix_plan_shards_path(p);
    rc = open_plan_shards(p, plan, dir, NULL, err);
    free(dir);
    hb_mix_plan_close(p);
    return rc;
}

static int alloc_ring(hb_loader *L) {
    const hb_loader_opts *o = &L->o;
    L->n_slots = o->prefetch + 1;
    L->ring = hb_xcalloc((size_t)L->n_slots, sizeof *L->ring);
    int64_t tok = o->micro_batch * o->max_tokens;
    for (int i = 0; i < L->n_slots; i++) {
        slot_t *s = &L->ring[i];
        s->ids = hb_xmalloc((size_t)tok * sizeof *s->ids);
        s->labels = hb_xmalloc((size_t)tok * sizeof *s->labels);
        s->lens = hb_xmalloc((size_t)o->micro_batch * sizeof *s->lens);
        s->pixels = hb_xmalloc((size_t)(o->max_images * L->pix_per_image + 1) * sizeof *s->pixels);
        s->sid = hb_xcalloc((size_t)o->micro_batch, sizeof *s->sid);
        hb_arena_init(&s->names, 16384);
        L->bytes += tok * 8 + o->micro_batch * 16 + (o->max_images * L->pix_per_image + 1) * 4 + 16384;
    }
    L->st_ids = hb_xmalloc((size_t)o->max_tokens * sizeof *L->st_ids);
    L->st_labels = hb_xmalloc((size_t)o->max_tokens * sizeof *L->st_labels);
    L->st_cap_images = 16;
    L->st_hashes = hb_xmalloc((size_t)L->st_cap_images * sizeof *L->st_hashes);
    L->hwc = hb_xmalloc((size_t)L->pix_per_image);
    hb_arena_init(&L->sample_arena, 1 << 20);
    L->bytes += o->max_tokens * 8 + L->pix_per_image + (1 << 20);
    return 0;
}

int hb_loader_open(hb_loader **out, const hb_loader_opts *o, hb_err *err) {
    *out = NULL;
    if (o->global_batch < 1 || o->micro_batch < 1 || o->ranks < 1 || o->global_batch % o->ranks ||
        o->max_tokens < 2 || o->max_images < 0 || o->prefetch < 1 || o->visual_tokens < 1 || o->image_size < 1)
        return hb_err_set(err, HB_EINVAL, o->plan, HB_NOPOS, HB_NOPOS,
                          "bad loader options (global batch %lld, micro-batch %lld, ranks %lld, max_tokens %lld)",
                          (long long)o->global_batch, (long long)o->micro_batch, (long long)o->ranks,
                          (long long)o->max_tokens);
    hb_loader *L = hb_xcalloc(1, sizeof *L);
    L->o = *o;
    L->o.plan = L->plan_path = hb_xstrdup(o->plan); /* the caller's strings need not outlive the call */
    L->o.shards = L->o.images = NULL;
    L->pix_per_image = 3 * (int64_t)o->image_size * o->image_size;
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv, NULL);
    int rc = hb_mix_plan_open(&L->plan, o->plan, err);
    if (!rc && hb_mix_plan_packed(L->plan))
        rc = hb_err_set(err, HB_EUNSUPPORTED, o->plan, HB_NOPOS, HB_NOPOS,
                        "packed plans are not supported by the trainer yet (packing needs attention blocked "
                        "between samples); re-run hb-mix without `pack`");
    if (!rc) {
        L->shards_dir = o->shards ? hb_xstrdup(o->shards) : hb_mix_plan_shards_path(L->plan);
        L->images_dir = hb_xstrdup(o->images ? o->images : L->shards_dir);
        rc = open_shards(L, err);
    }
    if (!rc && hb_imgstore_open(&L->store, L->images_dir, (uint32_t)o->image_size, &L->store_err)) L->store = NULL;
    if (!rc) rc = alloc_ring(L);
    if (rc) {
        hb_loader_close(L);
        return rc;
    }
    *out = L;
    return 0;
}

uint64_t hb_loader_plan_hash(const hb_loader *L) { return hb_mix_plan_hash(L->plan); }
uint64_t hb_loader_sequences(const hb_loader *L) { return hb_mix_plan_sequences(L->plan); }
uint64_t hb_loader_full_batches(const hb_loader *L) {
    return hb_mix_plan_sequences(L->plan) / (uint64_t)L->o.global_batch;
}
uint64_t hb_loader_plan_batch(const hb_loader *L) { return hb_mix_plan_batch(L->plan); }
int64_t hb_loader_bytes(const hb_loader *L) { return L->bytes; }

void hb_loader_cursor(const hb_loader *L, int64_t step, char *out, size_t n) {
    hb_mix_cursor_format(L->plan, (uint64_t)(step * L->o.global_batch), out, n);
}

int hb_loader_cursor_step(const hb_loader *L, const char *cursor, int64_t *step, hb_err *err) {
    uint64_t pos;
    int rc = hb_mix_cursor_parse(L->plan, cursor, &pos, err);
    if (rc) return rc;
    if (pos % (uint64_t)L->o.global_batch)
        return hb_err_set(err, HB_EINVAL, L->o.plan, HB_NOPOS, HB_NOPOS,
                          "cursor %s is not at a boundary of the global batch %lld", cursor,
                          (long long)L->o.global_batch);
    *step = (int64_t)(pos / (uint64_t)L->o.global_batch);
    return 0;
}

/* ---- the producer ---- */
static slot_t *acquire(hb_loader *L) { /* waits for the next slot to be free; NULL when stopping */
    pthread_mutex_lock(&L->mu);
    slot_t *s = &L->ring[L->produced % (uint64_t)L->n_slots];
    while (!L->stop && s->state != SLOT_FREE) pthread_cond_wait(&L->cv, &L->mu);
    int stop = L->stop;
    pthread_mutex_unlock(&L->mu);
    return stop ? NULL : s;
}

static void publish(hb_loader *L, slot_t *s) {
    pthread_mutex_lock(&L->mu);
    s->state = SLOT_READY;
    L->produced++;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
}

static void slot_reset(slot_t *s, int64_t step, int64_t index, int64_t rank, int64_t first_seq) {
    memset(&s->mb, 0, sizeof s->mb);
    s->mb.step = step;
    s->mb.index = index;
    s->mb.rank = rank;
    s->mb.first_seq = first_seq;
    s->err_code = 0;
    hb_arena_reset(&s->names);
}

/* Lays the rows out as [batch, seq] with right padding (id 0, label -100). */
static void slot_finish(hb_loader *L, slot_t *s) {
    hb_microbatch *mb = &s->mb;
    int64_t B = mb->b.batch, T = 1, M = L->o.max_tokens;
    for (int64_t i = 0; i < B; i++)
        if (s->lens[i] > T) T = s->lens[i];
    for (int64_t i = 0; i < B; i++) {
        int64_t n = s->lens[i];
        if (i) { /* rows move towards the front only (T <= M) */
            memmove(s->ids + i * T, s->ids + i * M, (size_t)n * sizeof *s->ids);
            memmove(s->labels + i * T, s->labels + i * M, (size_t)n * sizeof *s->labels);
        }
        for (int64_t t = n; t < T; t++) {
            s->ids[i * T + t] = 0;
            s->labels[i * T + t] = -100;
        }
    }
    mb->b.seq = T;
    mb->b.input_ids = s->ids;
    mb->b.labels = s->labels;
    mb->b.pixels = mb->b.n_images ? s->pixels : NULL;
    mb->ids = s->sid;
}

static int fail_slot(hb_loader *L, slot_t *s, int rc, const hb_err *e) {
    s->err_code = rc;
    s->err = *e;
    publish(L, s);
    return rc;
}

/* Decodes plan sequence q into the staging buffers. */
static int stage_sequence(hb_loader *L, uint64_t q, int64_t *len, int64_t *nimg, const char **sid, hb_err *err) {
    uint64_t first, n;
    hb_mix_ref ref;
    int rc = hb_mix_plan_sequence(L->plan, q, &first, &n, err);
    if (!rc) rc = hb_mix_plan_sample(L->plan, first, &ref, err);
    if (rc) return rc;
    hb_arena_reset(&L->sample_arena);
    hb_sample smp;
    if ((rc = hb_shard_get_sample(L->shards[ref.shard], ref.record, &smp, &L->sample_arena, err))) {
        hb_err_prefix(err, "plan sequence %" PRIu64, q);
        return rc;
    }
    *sid = smp.id;
    for (uint32_t t = 0; t < smp.n_tokens; t++)
        if (smp.tokens[t] >= L->o.vocab_size)
            return hb_err_set(err, HB_EFORMAT, hb_shard_path(L->shards[ref.shard]), (long long)ref.record, HB_NOPOS,
                              "sample %s: token id %d at position %u is outside the model's vocabulary of %d (were "
                              "the shards tokenized for another model?)",
                              smp.id, smp.tokens[t], t, L->o.vocab_size);
    if ((rc = hb_loader_sequence(smp.tokens, smp.loss_mask, smp.n_tokens, smp.n_images, L->o.max_tokens,
                                 L->o.visual_tokens, L->st_ids, L->st_labels, len, nimg, smp.id, err))) {
        snprintf(err->file, sizeof err->file, "%s", hb_shard_path(L->shards[ref.shard]));
        err->record = (long long)ref.record;
        hb_err_prefix(err, "sample %s", smp.id);
        return rc;
    }
    L->st_truncated = *len < (int64_t)smp.n_tokens;
    if (*nimg > L->st_cap_images) {
        L->st_cap_images = *nimg;
        L->st_hashes = hb_xrealloc(L->st_hashes, (size_t)*nimg * sizeof *L->st_hashes);
    }
    memcpy(L->st_hashes, smp.images, (size_t)*nimg * sizeof *L->st_hashes);
    return 0;
}

/* Appends the staged sequence to slot s (the caller checked that it fits). */
static int place(hb_loader *L, slot_t *s, int64_t len, int64_t nimg, const char *sid, hb_err *err) {
    hb_microbatch *mb = &s->mb;
    int64_t i = mb->b.batch, M = L->o.max_tokens;
    memcpy(s->ids + i * M, L->st_ids, (size_t)len * sizeof *s->ids);
    memcpy(s->labels + i * M, L->st_labels, (size_t)len * sizeof *s->labels);
    s->lens[i] = len;
    s->sid[i] = hb_arena_strdup(&s->names, sid);
    for (int64_t t = 1; t < len; t++) mb->supervised += L->st_labels[t] >= 0;
    mb->tokens += len;
    mb->truncated += L->st_truncated;
    for (int64_t k = 0; k < nimg; k++) {
        if (!L->store) {
            *err = L->store_err;
            hb_err_prefix(err, "sample %s needs an image", sid);
            return L->store_err.code ? (int)L->store_err.code : HB_ENOTFOUND;
        }
        int rc = hb_imgstore_get(L->store, L->st_hashes[k], L->hwc, NULL, err);
        if (rc) {
            char hex[33];
            hb_hash128_hex(L->st_hashes[k], hex);
            hb_err_prefix(err, "sample %s: image %lld (%s)", sid, (long long)k, hex);
            return rc;
        }
        hb_loader_pixels(L->hwc, L->o.image_size, L->o.mean, L->o.std,
                         s->pixels + (mb->b.n_images + k) * L->pix_per_image);
    }
    mb->b.n_images += nimg;
    mb->b.batch++;
    return 0;
}

static int produce_step(hb_loader *L, int64_t g) {
    const hb_loader_opts *o = &L->o;
    int64_t per = o->global_batch / o->ranks, index = 0;
    hb_err err;
    hb_err_clear(&err);
    for (int64_t r = 0; r < o->ranks; r++) {
        uint64_t a = (uint64_t)(g * o->global_batch + r * per), b = a + (uint64_t)per;
        slot_t *s = acquire(L);
        if (!s) return -1;
        slot_reset(s, g, index, r, (int64_t)a);
        for (uint64_t q = a; q < b; q++) {
            int64_t len = 0, nimg = 0;
            const char *sid;
            int rc = stage_sequence(L, q, &len, &nimg, &sid, &err);
            if (!rc && nimg > o->max_images)
                rc = hb_err_set(&err, HB_EINVAL, o->plan, (long long)q, HB_NOPOS,
                                "sample %s holds %lld images, more than data.max_images = %lld per micro-batch", sid,
                                (long long)nimg, (long long)o->max_images);
            if (rc) return fail_slot(L, s, rc, &err);
            if (s->mb.b.batch == o->micro_batch || s->mb.b.n_images + nimg > o->max_images) {
                slot_finish(L, s);
                publish(L, s);
                if (!(s = acquire(L))) return -1;
                slot_reset(s, g, ++index, r, (int64_t)q);
            }
            if ((rc = place(L, s, len, nimg, sid, &err))) return fail_slot(L, s, rc, &err);
        }
        s->mb.last = r == o->ranks - 1;
        slot_finish(L, s);
        publish(L, s);
        index++;
    }
    return 0;
}

static void *producer(void *arg) {
    hb_loader *L = arg;
    for (int64_t g = L->first_step; g < L->end_step; g++)
        if (produce_step(L, g)) break;
    pthread_mutex_lock(&L->mu);
    L->finished = 1;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

int hb_loader_start(hb_loader *L, int64_t first_step, int64_t end_step, hb_err *err) {
    if (L->running) return hb_err_set(err, HB_EINTERNAL, L->o.plan, HB_NOPOS, HB_NOPOS, "loader already started");
    if (first_step < 0 || end_step < first_step || (uint64_t)end_step > hb_loader_full_batches(L))
        return hb_err_set(err, HB_ERANGE, L->o.plan, HB_NOPOS, HB_NOPOS,
                          "global batches %lld..%lld requested; the plan holds %" PRIu64 " of %lld sequences",
                          (long long)first_step, (long long)end_step - 1, hb_loader_full_batches(L),
                          (long long)L->o.global_batch);
    L->first_step = first_step;
    L->end_step = end_step;
    L->produced = L->consumed = 0;
    L->holding = 0;
    L->stop = L->finished = 0;
    for (int i = 0; i < L->n_slots; i++) L->ring[i].state = SLOT_FREE;
    if (pthread_create(&L->thread, NULL, producer, L))
        return hb_err_set(err, HB_EINTERNAL, L->o.plan, HB_NOPOS, HB_NOPOS, "cannot start the prefetch thread");
    L->running = 1;
    return 0;
}

int hb_loader_next(hb_loader *L, const hb_microbatch **mb, hb_err *err) {
    *mb = NULL;
    if (!L->running) return hb_err_set(err, HB_EINTERNAL, L->o.plan, HB_NOPOS, HB_NOPOS, "loader not started");
    pthread_mutex_lock(&L->mu);
    if (L->holding) {
        L->ring[(L->consumed - 1) % (uint64_t)L->n_slots].state = SLOT_FREE;
        L->holding = 0;
        pthread_cond_broadcast(&L->cv);
    }
    slot_t *s = &L->ring[L->consumed % (uint64_t)L->n_slots];
    int done = 0;
    for (;;) {
        if (s->state == SLOT_READY) break;
        /* the producer has finished (every step produced, or it stopped on an error already delivered) */
        if (L->finished) {
            done = 1;
            break;
        }
        pthread_cond_wait(&L->cv, &L->mu);
    }
    if (!done) {
        L->consumed++;
        L->holding = 1;
    }
    pthread_mutex_unlock(&L->mu);
    if (done) return hb_err_set(err, HB_ERANGE, L->o.plan, HB_NOPOS, HB_NOPOS, "no more micro-batches");
    if (s->err_code) {
        *err = s->err;
        return s->err_code;
    }
    *mb = &s->mb;
    return 0;
}

void hb_loader_close(hb_loader *L) {
    if (!L) return;
    if (L->running) {
        pthread_mutex_lock(&L->mu);
        L->stop = 1;
        pthread_cond_broadcast(&L->cv);
        pthread_mutex_unlock(&L->mu);
        pthread_join(L->thread, NULL);
    }
    for (int i = 0; L->ring && i < L->n_slots; i++) {
        slot_t *s = &L->ring[i];
        free(s->ids), free(s->labels), free(s->lens), free(s->pixels), free(s->sid);
        hb_arena_free(&s->names);
    }
    free(L->ring);
    for (size_t i = 0; L->shards && i < L->n_shards; i++) hb_shard_close(L->shards[i]);
    free(L->shards);
    hb_imgstore_close(L->store);
    hb_mix_plan_close(L->plan);
    free(L->plan_path), free(L->shards_dir), free(L->images_dir);
    free(L->st_ids), free(L->st_labels), free(L->st_hashes), free(L->hwc);
    hb_arena_free(&L->sample_arena);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv);
    free(L);
}

/* The text side of a sample: the recipe's template set and tokenizer, and one sample rendered (lib/text/render) and
 * tokenized with Honeybee's chunk-wise encoding and loss mask (lib/text/prompt) into an hb_sample.
 * Dependencies: prep_impl.h, text/render.h + text/template.h (hb_template_load, hb_render), text/tokenizer.h +
 * text/prompt.h (hb_tok_load, hb_prompt_encode), shard/shard.h (hb_sample). */
#include "prep_impl.h"

#include <stdlib.h>
#include <string.h>

#include "text/prompt.h"
#include "text/render.h"
#include "text/template.h"
#include "text/tokenizer.h"

int hb_prep_open_text(hb_prep *p, hb_err *err) {
    if (p->o->inputs_only) return 0;
    const hb_recipe *r = p->r;
    if (!r->templates)
        return hb_err_set(err, HB_EINVAL, r->path, HB_NOPOS, HB_NOPOS,
                          "templates: missing (a template set renders the samples; --inputs writes what it would "
                          "receive without one)");
    if (!r->tokenizer)
        return hb_err_set(err, HB_EINVAL, r->path, HB_NOPOS, HB_NOPOS,
                          "tokenizer: missing (tokenizer.json or tokenizer.model of the language model)");
    hb_template_set *ts;
    hb_tokenizer *t;
    int rc = hb_template_load(r->templates, &ts, err);
    if (rc) return rc;
    p->templates = ts;
    if ((rc = hb_tok_load(r->tokenizer, &t, err))) return rc;
    p->tokenizer = t;
    if (hb_tok_bos(t) < 0 || hb_tok_eos(t) < 0)
        return hb_err_set(err, HB_EINVAL, r->tokenizer, HB_NOPOS, HB_NOPOS,
                          "the tokenizer has no <s> or </s>: Honeybee's encoding needs both");
    return 0;
}

void hb_prep_close_text(hb_prep *p) {
    hb_template_free(p->templates);
    hb_tok_free(p->tokenizer);
    p->templates = p->tokenizer = NULL;
}

int hb_prep_check_source(hb_prep *p, const hb_recipe_source *src, const char *template_key, hb_err *err) {
    if (p->o->inputs_only) return 0;
    const hb_converter *c = hb_converter_find(src->dataset);
    if (c->conversation || hb_template_lookup(p->templates, template_key)) return 0;
    const char *hint = hb_template_lookup(p->templates, src->dataset) ? src->dataset
                       : hb_template_lookup(p->templates, c->name)   ? c->name
                                                                      : NULL;
    if (hint) /* a source named otherwise than its dataset: the dataset's pattern is most likely meant */
        return hb_err_set(err, HB_EINVAL, p->r->path, HB_NOPOS, HB_NOPOS,
                          "sources.%s: the template set %s has no pattern for '%s' (the template key is the source "
                          "name): set sources.%s.template: %s for the %s pattern", src->name, p->r->templates,
                          template_key, src->name, hint, hint);
    return hb_err_set(err, HB_EINVAL, p->r->path, HB_NOPOS, HB_NOPOS,
                      "sources.%s: the template set %s has no pattern for '%s' (set sources.%s.template to one of its "
                      "pattern keys)", src->name, p->r->templates, template_key, src->name);
}

void hb_prep_worker_init(hb_prep *p, hb_prep_worker *w) {
    memset(w, 0, sizeof *w);
    hb_arena_init(&w->arena, 1 << 20);
    if (p->tokenizer) {
        w->tok = hb_tok_scratch_new();
        w->enc = hb_xcalloc(1, sizeof(hb_prompt_enc));
    }
}

void hb_prep_worker_free(hb_prep_worker *w) {
    hb_arena_free(&w->arena);
    if (w->tok) hb_tok_scratch_free(w->tok);
    if (w->enc) {
        hb_prompt_enc_free(w->enc);
        free(w->enc);
    }
}

/* The renderer's choices plus hb-prep's own (image path, dedup record, truncation), as one compact JSON object. */
static const char *merge_choices(hb_arena *a, const char *rendered, const hb_pitem *f, const hb_psample *ps,
                                 int truncated) {
    cJSON *o = rendered ? cJSON_Parse(rendered) : NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = cJSON_CreateObject();
    }
    if (f->image) cJSON_AddStringToObject(o, "image", f->image);
    if (ps->dedup_json) {
        cJSON *d = cJSON_Parse(ps->dedup_json);
        if (d) cJSON_AddItemToObject(o, "dedup", d);
    }
    if (truncated) cJSON_AddTrueToObject(o, "truncated");
    char *txt = cJSON_PrintUnformatted(o);
    const char *s = hb_arena_strdup(a, txt);
    cJSON_free(txt);
    cJSON_Delete(o);
    return s;
}

void hb_prep_build_sample(hb_psrc *s, const hb_pbuf *b, const hb_psample *ps, hb_prep_worker *w, hb_prep_result *r) {
    const hb_prep *p = s->p;
    hb_arena *a = &w->arena;
    const hb_pitem *f = &b->items[b->order[ps->first]];
    hb_hash128 image_hash = {0, 0};
    int with_image = f->image && p->ingest && !s->src->no_images;
    if (with_image) { /* first, so a sample whose image is rejected costs no rendering */
        const char *why = hb_prep_image_of(s, f, &image_hash, a, &r->fatal, &r->err);
        if (why) {
            r->reason = hb_arena_printf(a, "%s (sample %s)", why, ps->id);
            r->cls = hb_arena_strndup(a, why, strcspn(why, ":")); /* "image missing", "image corrupt", ... */
            r->image_rejected = 1;
            return;
        }
    }
    hb_render_input in = {.id = ps->id, .dataset = s->dataset, .n_images = f->image ? 1 : 0};
    if (f->n_conv) {
        in.conv = f->conv;
        in.n_conv = f->n_conv;
    } else {
        hb_example *ex = hb_arena_alloc(a, sizeof *ex * ps->n);
        for (uint32_t i = 0; i < ps->n; i++) ex[i] = b->items[b->order[ps->first + i]].ex;
        in.examples = ex;
        in.n_examples = ps->n;
    }
    hb_rendered rd;
    hb_err e;
    hb_err_clear(&e);
    if (hb_render(p->templates, &in, p->r->seed, a, &rd, &e)) {
        r->reason = hb_arena_printf(a, "cannot render sample %s: %s", ps->id, e.reason);
        r->cls = "cannot render";
        return;
    }
    hb_prompt_enc *enc = w->enc;
    hb_prompt_opts po = {.max_length = p->r->max_length, .n_visual = p->r->visual_tokens};
    if (hb_prompt_encode(p->tokenizer, w->tok, rd.text, rd.len, &po, enc, &e)) {
        r->reason = hb_arena_printf(a, "cannot tokenize sample %s: %s", ps->id, e.reason);
        r->cls = "cannot tokenize";
        return;
    }
    if (enc->n_images_in != in.n_images) { /* "<image>" inside the data's own text would add an image block */
        r->reason = hb_arena_printf(a, "sample %s: its text holds %u \"<image>\" marker(s) for %u image(s)", ps->id,
                                    enc->n_images_in, in.n_images);
        r->cls = "\"<image>\" marker in the text";
        return;
    }
    if (enc->n_images < in.n_images) {
        r->reason = hb_arena_printf(a, "sample %s: max_length %d leaves no room for its image (%d positions)", ps->id,
                                    p->r->max_length, p->r->visual_tokens);
        r->cls = "no room for the image within max_length";
        r->no_supervision = 1;
        return;
    }
    if (enc->n_supervised == 0) {
        r->reason = hb_arena_printf(a, "sample %s: no supervised token within max_length %d", ps->id, p->r->max_length);
        r->cls = "no supervised token within max_length";
        r->no_supervision = 1;
        return;
    }
    r->truncated = enc->truncated;
    hb_sample *o = &r->sample;
    memset(o, 0, sizeof *o);
    o->id = ps->id;
    o->source = s->src->name;
    o->source_file = f->file;
    int64_t *recs = hb_arena_alloc(a, sizeof *recs * ps->n);
    for (uint32_t i = 0; i < ps->n; i++) recs[i] = b->items[b->order[ps->first + i]].record;
    o->records = recs;
    o->n_records = ps->n;
    o->choices = merge_choices(a, rd.choices, f, ps, enc->truncated);
    if (with_image) {
        hb_hash128 *h = hb_arena_alloc(a, sizeof *h);
        *h = image_hash;
        o->images = h;
        o->n_images = 1;
    }
    o->turns = rd.turns;
    o->n_turns = rd.n_turns;
    o->n_tokens = (uint32_t)enc->n;
    o->tokens = hb_arena_memdup(a, enc->ids, enc->n * sizeof *enc->ids);
    o->loss_mask = hb_arena_memdup(a, enc->mask, enc->n);
}

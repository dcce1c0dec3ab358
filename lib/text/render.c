/* Rendering one sample: templated QA examples or a pre-rendered conversation -> Honeybee's prompt layout
 * (spec-data.md §2.2, §1.11, §1.12), its turns, and the JSON of the choices made.
 * Dependencies: render.h (the API), template.h (patterns), example.h (inputs), shard/shard.h (hb_turn),
 *               core/core.h (hb_arena, hb_buf, hb_rng_for, hb_err), <cjson/cJSON.h> (reading recorded choices). */
#include "text/render.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <string.h>

#define IMAGE "<image>"
#define HUMAN "\nHuman: "
#define AI "\nAI: "

/* Choices imposed instead of drawn (replay). */
typedef struct {
    int pattern;                 /* -1: draw */
    const hb_option_draw *draws; /* one per example (n == 0 for non-MC examples); NULL: draw */
} forced;

static int sample_err(hb_err *err, hb_code code, const hb_render_input *in, int64_t record, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int sample_err(hb_err *err, hb_code code, const hb_render_input *in, int64_t record, const char *fmt, ...) {
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return hb_err_set(err, code, NULL, record >= 0 ? (long long)record : HB_NOPOS, HB_NOPOS,
                      "dataset '%s', sample '%s': %s", in->dataset ? in->dataset : "?", in->id ? in->id : "?", msg);
}

/* ---- turns: split a rendered text at its role boundaries (exactly where the tokenizer will) ---- */
static const char *next_role(const char *p, const char *end, int *is_ai) {
    for (const char *q = p; q < end; q++) {
        if (*q != '\n') continue;
        if ((size_t)(end - q) >= sizeof HUMAN - 1 && !memcmp(q, HUMAN, sizeof HUMAN - 1)) return *is_ai = 0, q;
        if ((size_t)(end - q) >= sizeof AI - 1 && !memcmp(q, AI, sizeof AI - 1)) return *is_ai = 1, q;
    }
    return NULL;
}

static void split_turns(const char *text, size_t len, hb_arena *a, hb_rendered *out) {
    const char *end = text + len;
    uint32_t cap = 1;
    int ai;
    for (const char *p = text; (p = next_role(p, end, &ai)); p++) cap++;
    hb_turn *t = hb_arena_alloc(a, sizeof *t * cap);
    uint32_t n = 0;
    const char *p = next_role(text, end, &ai);
    if (!p) p = end;
    if (p > text) t[n++] = (hb_turn){HB_ROLE_SYSTEM, (uint32_t)(p - text), text};
    while (p < end) {
        int role_ai = ai;
        const char *body = p + (role_ai ? sizeof AI - 1 : sizeof HUMAN - 1);
        const char *nx = next_role(body, end, &ai);
        if (!nx) nx = end;
        t[n++] = (hb_turn){role_ai ? HB_ROLE_AI : HB_ROLE_HUMAN, (uint32_t)(nx - body), body};
        p = nx;
    }
    out->turns = t;
    out->n_turns = n;
}

static void finish_text(hb_buf *b, hb_arena *a, hb_rendered *out) {
    out->len = b->len;
    out->text = hb_arena_strndup(a, b->data ? (const char *)b->data : "", b->len);
}

/* ---- templated samples ---- */
typedef struct {
    const hb_example *ex;
    hb_optionized mc; /* valid when ex->n_options */
} ex_view;

static const char *view_get(const ex_view *v, const char *name, uint32_t len) {
    if (v->ex->n_options) {
        if (len == 6 && !memcmp(name, "option", 6)) return v->mc.option;
        if (len == 6 && !memcmp(name, "answer", 6)) return v->mc.answer;
        if (len == 11 && !memcmp(name, "answer_text", 11)) return v->mc.answer_text;
    }
    for (uint32_t i = 0; i < v->ex->n_fields; i++) {
        const char *k = v->ex->fields[i].key;
        if (k && strlen(k) == len && !memcmp(k, name, len)) return v->ex->fields[i].value;
    }
    return NULL;
}

static const char *structural(const char *s) {
    if (strstr(s, IMAGE)) return "the image placeholder '<image>'";
    if (strstr(s, HUMAN)) return "a role boundary '\\nHuman: '";
    if (strstr(s, AI)) return "a role boundary '\\nAI: '";
    return NULL;
}

/* Append t filled from v. check: refuse values that would add an image or a role boundary. */
static int fill(hb_buf *b, const hb_tstr *t, const ex_view *v, int check, const hb_render_input *in,
                const hb_pattern_key *k, uint32_t pi, const char *part, uint32_t exi, hb_err *err) {
    for (uint32_t i = 0; i < t->n_segs; i++) {
        const hb_tseg *s = &t->segs[i];
        if (!s->is_field) {
            hb_buf_append(b, s->text, s->len);
            continue;
        }
        const char *val = view_get(v, s->text, s->len);
        if (!val)
            return sample_err(err, HB_ENOTFOUND, in, v->ex->record,
                              "example %u has no field '%.*s' (pattern key '%s', pattern %u %s%s)", exi, (int)s->len,
                              s->text, k->key, pi, part,
                              !v->ex->n_options && s->len == 6 && !memcmp(s->text, "option", 6)
                                  ? "; {option} needs the example's options and answer index"
                                  : "");
        const char *why = check ? structural(val) : NULL;
        if (why)
            return sample_err(err, HB_EFORMAT, in, v->ex->record,
                              "example %u, field '%.*s' contains %s, which would change the prompt's structure", exi,
                              (int)s->len, s->text, why);
        hb_buf_puts(b, val);
    }
    return 0;
}

static int tstr_has_fields(const hb_tstr *t) {
    for (uint32_t i = 0; i < t->n_segs; i++)
        if (t->segs[i].is_field) return 1;
    return 0;
}

static void put_choices_options(hb_buf *c, const hb_render_input *in, const hb_option_draw *draws) {
    int any = 0;
    for (uint32_t e = 0; e < in->n_examples; e++) any |= in->examples[e].n_options != 0;
    if (!any) return;
    hb_buf_puts(c, ",\"options\":[");
    for (uint32_t e = 0; e < in->n_examples; e++) {
        if (e) hb_buf_putc(c, ',');
        if (!in->examples[e].n_options) {
            hb_buf_puts(c, "null");
            continue;
        }
        hb_buf_puts(c, "{\"order\":[");
        for (uint32_t i = 0; i < draws[e].n; i++) hb_buf_printf(c, "%s%u", i ? "," : "", draws[e].order[i]);
        hb_buf_printf(c, "],\"index\":\"%s\"}", hb_index_style_name(draws[e].icase, draws[e].decor));
    }
    hb_buf_putc(c, ']');
}

static int render_templated(const hb_template_set *ts, const hb_render_input *in, uint64_t seed, const forced *f,
                            hb_arena *a, hb_rendered *out, hb_err *err) {
    const hb_pattern_key *k = hb_template_lookup(ts, in->dataset);
    if (!k)
        return sample_err(err, HB_ENOTFOUND, in, HB_NOPOS,
                          "the template set '%s' (%s) has no pattern for this dataset (no datasets entry and no "
                          "pattern key of that name)",
                          hb_template_name(ts), hb_template_path(ts));
    uint32_t pi;
    if (f && f->pattern >= 0) {
        if ((uint32_t)f->pattern >= k->n_patterns)
            return sample_err(err, HB_ERANGE, in, HB_NOPOS, "recorded pattern %d, but pattern key '%s' has %u",
                              f->pattern, k->key, k->n_patterns);
        pi = (uint32_t)f->pattern;
    } else {
        hb_rng r = hb_rng_for(seed, "template", in->id);
        pi = (uint32_t)hb_rng_below(&r, k->n_patterns);
    }
    const hb_pattern *p = &k->patterns[pi];
    if (p->no_prompt && (in->n_examples != 1 || in->n_images != 1))
        return sample_err(err, HB_EINVAL, in, HB_NOPOS,
                          "pattern key '%s' pattern %u is " HB_NO_PROMPT " (\"" HB_NO_PROMPT " <image> <target>\"), "
                          "which needs exactly one example and one image, not %u and %u",
                          k->key, pi, in->n_examples, in->n_images);

    /* options, example by example, from one stream */
    hb_rng orng = hb_rng_for(seed, "options", in->id);
    ex_view *views = hb_arena_calloc(a, sizeof *views * in->n_examples);
    hb_option_draw *draws = hb_arena_calloc(a, sizeof *draws * in->n_examples);
    for (uint32_t e = 0; e < in->n_examples; e++) {
        const hb_example *ex = &in->examples[e];
        views[e].ex = ex;
        if (!ex->n_options) continue;
        if (f && f->draws) draws[e] = f->draws[e];
        else hb_options_draw(&p->options, ex->n_options, &orng, a, &draws[e]);
        hb_err oe;
        if (hb_optionize(ex->options, ex->n_options, ex->answer_idx, &draws[e], p->options.answer_text, a,
                         &views[e].mc, &oe))
            return sample_err(err, oe.code, in, ex->record, "example %u: %s", e, oe.reason);
    }

    hb_buf b = {0};
    int code = 0;
    if (p->no_prompt) {
        hb_buf_puts(&b, HB_NO_PROMPT " " IMAGE " ");
        size_t at = b.len;
        code = fill(&b, &p->target, &views[0], 0, in, k, pi, "target", 0, err);
        if (!code) {
            finish_text(&b, a, out);
            hb_turn *t = hb_arena_alloc(a, sizeof *t * 3);
            t[0] = (hb_turn){HB_ROLE_SYSTEM, sizeof HB_NO_PROMPT - 1, out->text};
            t[1] = (hb_turn){HB_ROLE_HUMAN, sizeof IMAGE - 1, out->text + sizeof HB_NO_PROMPT};
            t[2] = (hb_turn){HB_ROLE_AI, (uint32_t)(out->len - at), out->text + at};
            out->turns = t;
            out->n_turns = 3;
        }
    } else {
        hb_buf_puts(&b, hb_template_system(ts));
        if (p->instruction.src[0]) {
            hb_buf_putc(&b, ' ');
            hb_buf_puts(&b, p->instruction.src);
        }
        for (uint32_t i = 0; i < in->n_images; i++) hb_buf_puts(&b, HUMAN IMAGE);
        for (uint32_t e = 0; e < in->n_examples && !code; e++) {
            hb_buf_puts(&b, HUMAN);
            code = fill(&b, &p->input, &views[e], 1, in, k, pi, "input", e, err);
            if (code) break;
            hb_buf_puts(&b, AI);
            size_t at = b.len;
            code = fill(&b, &p->target, &views[e], 1, in, k, pi, "target", e, err);
            if (!code && b.len == at && tstr_has_fields(&p->target))
                code = sample_err(err, HB_EFORMAT, in, in->examples[e].record,
                                  "example %u renders an empty answer (target '%s'); the tokenizer would supervise "
                                  "the next role marker instead",
                                  e, p->target.src);
        }
        if (!code) {
            finish_text(&b, a, out);
            split_turns(out->text, out->len, a, out);
        }
    }
    hb_buf_free(&b);
    if (code) return code;

    hb_buf c = {0};
    hb_buf_puts(&c, "{\"template\":");
    hb_buf_put_json_str(&c, k->key, strlen(k->key));
    hb_buf_printf(&c, ",\"pattern\":%u", pi);
    if (p->name[0]) {
        hb_buf_puts(&c, ",\"name\":");
        hb_buf_put_json_str(&c, p->name, strlen(p->name));
    }
    if (p->flip) hb_buf_puts(&c, ",\"flip\":true");
    put_choices_options(&c, in, draws);
    hb_buf_putc(&c, '}');
    out->choices = hb_arena_strndup(a, (const char *)c.data, c.len);
    hb_buf_free(&c);
    out->key = k->key;
    return 0;
}

/* ---- conversations (LLaVA-150K with an image, ShareGPT without) ---- */
static size_t count_images(const char *s, size_t n) {
    size_t c = 0;
    for (const char *p = s; (p = memmem(p, n - (size_t)(p - s), IMAGE, sizeof IMAGE - 1)); p += sizeof IMAGE - 1) c++;
    return c;
}

/* LLaVA's marker rule (spec-data.md §1.11): cut the turn at the set's image markers (leftmost match, first marker
 * in list order on ties, like Python's re.split over an alternation) and replace each marker by "<image>" on its
 * own human turn: before the text when it is the turn's first piece, after it otherwise. */
static void put_with_markers(hb_buf *b, const hb_template_set *ts, const char *s, size_t n) {
    size_t start = 0, pieces = 0;
    for (size_t p = 0; p < n;) {
        const char *hit = NULL;
        size_t hl = 0;
        for (uint32_t m = 0; m < hb_template_n_markers(ts) && !hit; m++) {
            const char *mk = hb_template_marker(ts, m);
            size_t ml = strlen(mk);
            if (ml <= n - p && !memcmp(s + p, mk, ml)) hit = mk, hl = ml;
        }
        if (!hit) {
            p++;
            continue;
        }
        if (p > start) {
            hb_buf_append(b, s + start, p - start);
            pieces++;
        }
        hb_buf_puts(b, pieces == 0 ? IMAGE HUMAN : HUMAN IMAGE);
        pieces++;
        p += hl;
        start = p;
    }
    if (n > start) hb_buf_append(b, s + start, n - start);
}

static int render_conversation(const hb_template_set *ts, const hb_render_input *in, hb_arena *a, hb_rendered *out,
                               hb_err *err) {
    hb_buf b = {0};
    hb_buf_puts(&b, hb_template_conv_system(ts));
    int skipped = 0;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < in->n_conv; i++) {
        const hb_turn *t = &in->conv[i];
        if (t->role != HB_ROLE_HUMAN && t->role != HB_ROLE_AI) {
            hb_buf_free(&b);
            return sample_err(err, HB_EFORMAT, in, HB_NOPOS,
                              "conversation turn %u has role '%s'; conversations hold human and ai turns only", i,
                              hb_role_name(t->role));
        }
        if (in->n_images == 0 && i == 0 && t->role != HB_ROLE_HUMAN) {
            skipped = 1; /* ShareGPT: a conversation that opens with the assistant loses that turn */
            continue;
        }
        hb_buf_puts(&b, t->role == HB_ROLE_HUMAN ? HUMAN : AI);
        const char *s = t->text ? t->text : "";
        size_t n = t->text ? t->len : 0;
        if (in->n_images) put_with_markers(&b, ts, s, n);
        else hb_buf_append(&b, s, n);
        kept++;
    }
    if (!kept) {
        hb_buf_free(&b);
        return sample_err(err, HB_EFORMAT, in, HB_NOPOS, "the conversation has no turn%s",
                          skipped ? " after its opening assistant turn is dropped" : "");
    }
    if (in->n_images == 0) {
        /* text-only: a literal "<image>" becomes "image" so that no image placeholder can appear */
        hb_buf t = {0};
        const char *s = (const char *)b.data, *e = s + b.len;
        for (const char *p = s; p < e;) {
            const char *q = memmem(p, (size_t)(e - p), IMAGE, sizeof IMAGE - 1);
            if (!q) {
                hb_buf_append(&t, p, (size_t)(e - p));
                break;
            }
            hb_buf_append(&t, p, (size_t)(q - p));
            hb_buf_puts(&t, "image");
            p = q + sizeof IMAGE - 1;
        }
        hb_buf_free(&b);
        b = t;
    } else {
        size_t found = count_images((const char *)b.data, b.len);
        if (found != in->n_images) {
            hb_buf_free(&b);
            return sample_err(err, HB_EFORMAT, in, HB_NOPOS,
                              "the conversation places %zu image%s but the sample has %u (each image needs one "
                              "marker: %s)",
                              found, found == 1 ? "" : "s", in->n_images,
                              "'<image>\\n' before or '\\n<image>' after a turn's text, or as set in the template "
                              "set's conversation.image_markers");
        }
    }
    finish_text(&b, a, out);
    hb_buf_free(&b);
    split_turns(out->text, out->len, a, out);
    out->choices = skipped ? "{\"conversation\":true,\"skipped_first_turn\":true}" : "{\"conversation\":true}";
    out->key = "";
    return 0;
}

/* ---- entry points ---- */
static int check_input(const hb_render_input *in, hb_err *err) {
    if (!in->id || !*in->id) return sample_err(err, HB_EINVAL, in, HB_NOPOS, "the sample has no id");
    if (!in->dataset || !*in->dataset) return sample_err(err, HB_EINVAL, in, HB_NOPOS, "the sample names no dataset");
    if (in->n_examples && in->n_conv)
        return sample_err(err, HB_EINVAL, in, HB_NOPOS, "the sample has both examples and a conversation");
    if (!in->n_examples && !in->n_conv)
        return sample_err(err, HB_EINVAL, in, HB_NOPOS, "the sample has neither examples nor a conversation");
    return 0;
}

static int render(const hb_template_set *ts, const hb_render_input *in, uint64_t seed, const forced *f, hb_arena *a,
                  hb_rendered *out, hb_err *err) {
    memset(out, 0, sizeof *out);
    int code = check_input(in, err);
    if (code) return code;
    if (in->n_conv) return render_conversation(ts, in, a, out, err);
    return render_templated(ts, in, seed, f, a, out, err);
}

int hb_render(const hb_template_set *ts, const hb_render_input *in, uint64_t seed, hb_arena *a, hb_rendered *out,
              hb_err *err) {
    return render(ts, in, seed, NULL, a, out, err);
}

/* Parse one recorded option draw {"order":[...],"index":"A."} for an example with n options. */
static int parse_draw(const cJSON *o, uint32_t n, hb_arena *a, hb_option_draw *d) {
    const cJSON *ord = cJSON_GetObjectItemCaseSensitive(o, "order");
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(o, "index");
    if (!cJSON_IsArray(ord) || (uint32_t)cJSON_GetArraySize(ord) != n || !cJSON_IsString(idx) ||
        hb_index_style_parse(idx->valuestring, &d->icase, &d->decor))
        return -1;
    d->n = n;
    d->order = hb_arena_alloc(a, sizeof *d->order * (n ? n : 1));
    uint32_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, ord) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= n ||
            it->valuedouble != (double)(uint32_t)it->valuedouble)
            return -1;
        d->order[i++] = (uint32_t)it->valuedouble;
    }
    return 0;
}

int hb_render_replay(const hb_template_set *ts, const hb_render_input *in, const char *choices, hb_arena *a,
                     hb_rendered *out, hb_err *err) {
    memset(out, 0, sizeof *out);
    int code = check_input(in, err);
    if (code) return code;
    cJSON *c = cJSON_Parse(choices ? choices : "");
    if (!cJSON_IsObject(c)) {
        cJSON_Delete(c);
        return sample_err(err, HB_EFORMAT, in, HB_NOPOS, "the recorded choices are not a JSON object");
    }
    if (in->n_conv) {
        cJSON_Delete(c);
        return render_conversation(ts, in, a, out, err);
    }
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(c, "template");
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(c, "pattern");
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(c, "options");
    const hb_pattern_key *k = hb_template_lookup(ts, in->dataset);
    forced f = {.pattern = -1};
    if (!cJSON_IsString(key) || !cJSON_IsNumber(pat) || pat->valuedouble < 0 || pat->valuedouble > 1e9 ||
        pat->valuedouble != (double)(int)pat->valuedouble)
        code = sample_err(err, HB_EFORMAT, in, HB_NOPOS, "the recorded choices lack \"template\" or \"pattern\"");
    else if (k && strcmp(k->key, key->valuestring))
        code = sample_err(err, HB_EINVAL, in, HB_NOPOS,
                          "the choices were made with pattern key '%s', but this dataset now renders with '%s'",
                          key->valuestring, k->key);
    else
        f.pattern = (int)pat->valuedouble;
    int any_mc = 0;
    for (uint32_t e = 0; e < in->n_examples; e++) any_mc |= in->examples[e].n_options != 0;
    if (!code && any_mc) {
        if (!cJSON_IsArray(opts) || (uint32_t)cJSON_GetArraySize(opts) != in->n_examples) {
            code = sample_err(err, HB_EFORMAT, in, HB_NOPOS,
                              "the recorded choices need an \"options\" entry per example (%u)", in->n_examples);
        } else {
            hb_option_draw *draws = hb_arena_calloc(a, sizeof *draws * in->n_examples);
            for (uint32_t e = 0; e < in->n_examples && !code; e++) {
                uint32_t n = in->examples[e].n_options;
                if (n && parse_draw(cJSON_GetArrayItem(opts, (int)e), n, a, &draws[e]))
                    code = sample_err(err, HB_EFORMAT, in, in->examples[e].record,
                                      "recorded options of example %u do not fit its %u options", e, n);
            }
            f.draws = draws;
        }
    }
    cJSON_Delete(c);
    if (code) return code;
    return render_templated(ts, in, 0, &f, a, out, err);
}

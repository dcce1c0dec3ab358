/* lib/text/spm_model.c — SentencePiece tokenizer.model (ModelProto, protobuf wire format) -> hb_tokenizer.
 *
 * Dependencies: text/tokenizer_impl.h.
 *
 * The protobuf is read directly (no libprotobuf): ModelProto { repeated SentencePiece pieces = 1; TrainerSpec
 * trainer_spec = 2; NormalizerSpec normalizer_spec = 3; SelfTestData self_test_data = 4; NormalizerSpec
 * denormalizer_spec = 5 }, SentencePiece { string piece = 1; float score = 2; Type type = 3 (default NORMAL) }.
 * Used TrainerSpec fields: model_type = 3 (must be BPE = 2), treat_whitespace_as_suffix = 24, byte_fallback = 35,
 * unk_id = 40, bos_id = 41, eos_id = 42, unk_surface = 44. NormalizerSpec: name = 1, precompiled_charsmap = 2,
 * add_dummy_prefix = 3, remove_extra_whitespaces = 4, escape_whitespaces = 5 (the last three default to true).
 * The checks sentencepiece makes when loading (empty or duplicate pieces, exactly one <unk>, 256 byte pieces with
 * byte_fallback) are made here too. When the model carries self-test samples they are encoded and compared.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_impl.h"

#define TOK_MAX_PIECE 4096 /* sentencepiece's own limit is 16 characters by default; this bounds a corrupt file */

typedef struct {
    const uint8_t *base, *p, *end;
} pb_reader;

typedef struct {
    uint32_t field, wire;
    uint64_t v;          /* varint / fixed value */
    const uint8_t *data; /* length-delimited payload */
    size_t len;
    size_t at; /* offset of the field in the file */
} pb_field;

/* 1 = a field was read, 0 = end of message, -1 = malformed. */
static int pb_next(pb_reader *r, pb_field *f) {
    if (r->p >= r->end) return 0;
    f->at = (size_t)(r->p - r->base);
    uint64_t key = 0;
    for (int s = 0;; s += 7) {
        if (r->p >= r->end || s > 63) return -1;
        uint8_t b = *r->p++;
        key |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) break;
    }
    f->field = (uint32_t)(key >> 3);
    f->wire = (uint32_t)(key & 7);
    f->data = NULL;
    f->len = 0;
    f->v = 0;
    switch (f->wire) {
    case 0:
        for (int s = 0;; s += 7) {
            if (r->p >= r->end || s > 63) return -1;
            uint8_t b = *r->p++;
            f->v |= (uint64_t)(b & 0x7f) << s;
            if (!(b & 0x80)) break;
        }
        return f->field ? 1 : -1;
    case 1:
        if (r->end - r->p < 8) return -1;
        f->v = hb_le64(r->p);
        r->p += 8;
        return 1;
    case 5:
        if (r->end - r->p < 4) return -1;
        f->v = hb_le32(r->p);
        r->p += 4;
        return 1;
    case 2: {
        uint64_t n = 0;
        for (int s = 0;; s += 7) {
            if (r->p >= r->end || s > 63) return -1;
            uint8_t b = *r->p++;
            n |= (uint64_t)(b & 0x7f) << s;
            if (!(b & 0x80)) break;
        }
        if (n > (uint64_t)(r->end - r->p)) return -1;
        f->data = r->p;
        f->len = (size_t)n;
        r->p += n;
        return 1;
    }
    default: return -1; /* groups (3, 4) are not used by sentencepiece */
    }
}

static pb_reader pb_sub(const pb_reader *parent, const pb_field *f) {
    return (pb_reader){parent->base, f->data, f->data + f->len};
}

typedef struct {
    const uint8_t *str;
    size_t len;
    float score;
    int type;
} spm_piece;

typedef struct {
    int model_type, byte_fallback, ws_suffix;
    int32_t unk_id, bos_id, eos_id;
    const uint8_t *unk_surface;
    size_t unk_surface_len;
    int has_unk_surface;
    const uint8_t *norm_name, *charsmap, *dcharsmap;
    size_t norm_name_len, charsmap_len, dcharsmap_len;
    int add_dummy_prefix, remove_extra_ws, escape_ws;
} spm_spec;

static int malformed(hb_err *err, const char *name, size_t at, const char *what) {
    return hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, (long long)at, "malformed tokenizer.model (protobuf): %s", what);
}

static int parse_trainer(pb_reader r, spm_spec *s, const char *name, hb_err *err) {
    pb_field f;
    int k;
    while ((k = pb_next(&r, &f)) > 0) {
        switch (f.field) {
        case 3: s->model_type = (int)f.v; break;
        case 24: s->ws_suffix = f.v != 0; break;
        case 35: s->byte_fallback = f.v != 0; break;
        case 40: s->unk_id = (int32_t)f.v; break;
        case 41: s->bos_id = (int32_t)f.v; break;
        case 42: s->eos_id = (int32_t)f.v; break;
        case 44:
            s->unk_surface = f.data;
            s->unk_surface_len = f.len;
            s->has_unk_surface = 1;
            break;
        default: break;
        }
    }
    return k < 0 ? malformed(err, name, (size_t)(r.p - r.base), "bad field in trainer_spec") : 0;
}

static int parse_normalizer(pb_reader r, spm_spec *s, int denorm, const char *name, hb_err *err) {
    pb_field f;
    int k;
    while ((k = pb_next(&r, &f)) > 0) {
        if (denorm) {
            if (f.field == 2) s->dcharsmap = f.data, s->dcharsmap_len = f.len;
            continue;
        }
        switch (f.field) {
        case 1: s->norm_name = f.data, s->norm_name_len = f.len; break;
        case 2: s->charsmap = f.data, s->charsmap_len = f.len; break;
        case 3: s->add_dummy_prefix = f.v != 0; break;
        case 4: s->remove_extra_ws = f.v != 0; break;
        case 5: s->escape_ws = f.v != 0; break;
        default: break;
        }
    }
    return k < 0 ? malformed(err, name, (size_t)(r.p - r.base), "bad field in normalizer_spec") : 0;
}

static int cmp_prio(const void *a, const void *b, void *ctx) {
    const spm_piece *p = ctx;
    float sa = p[*(const int32_t *)a].score, sb = p[*(const int32_t *)b].score;
    if (sa != sb) return sa > sb ? -1 : 1;
    return *(const int32_t *)a < *(const int32_t *)b ? -1 : 1;
}

/* Pairs: every split of every mergeable piece into two symbol strings (a mergeable piece or one character). */
static void add_splits(hb_tokenizer *t, const spm_piece *pc, const tok_strmap *mergeable, const uint32_t *prio) {
    tok_pairmap_init(&t->pairs, (uint32_t)t->n_vocab * 4);
    tok_strmap virt = {0}; /* character -> virtual symbol */
    hb_buf vlen = {0};
    for (int pass = 0; pass < 2; pass++) {
        for (int32_t id = 0; id < t->n_vocab; id++) {
            if (pc[id].type != TOK_T_NORMAL && pc[id].type != TOK_T_USER && pc[id].type != TOK_T_UNUSED) continue;
            const uint8_t *s = pc[id].str;
            size_t n = pc[id].len;
            for (size_t k = hb_utf8_len(s, n); k && k < n; k += hb_utf8_len(s + k, n - k)) {
                int32_t sym[2];
                const uint8_t *part[2] = {s, s + k};
                size_t plen[2] = {k, n - k};
                for (int h = 0; h < 2; h++) {
                    sym[h] = tok_strmap_get(mergeable, part[h], plen[h]);
                    if (sym[h] >= 0 || hb_utf8_len(part[h], plen[h]) != plen[h]) continue;
                    sym[h] = tok_strmap_get(&virt, part[h], plen[h]);
                    if (sym[h] < 0 && pass == 0) {
                        sym[h] = t->n_sym++;
                        tok_strmap_put(&virt, part[h], plen[h], sym[h]);
                        hb_buf_put_u8(&vlen, (uint8_t)plen[h]);
                        tok_add_char_symbol(t, hb_utf8_cp(part[h], plen[h]), sym[h]);
                    }
                }
                if (pass == 1 && sym[0] >= 0 && sym[1] >= 0) tok_pairmap_put(&t->pairs, sym[0], sym[1], prio[id], id);
            }
        }
    }
    t->sym_len = vlen.data ? vlen.data : hb_xmalloc(1);
    tok_strmap_free(&virt);
}

/* Self-test samples (SelfTestData.samples: input = 1, expected = 2; expected is the pieces joined by " "). */
static int self_test(hb_tokenizer *t, pb_reader r, const char *name, hb_err *err) {
    pb_field f;
    int k, rc = 0;
    hb_tok_ids ids = {0};
    hb_buf got = {0};
    while (!rc && (k = pb_next(&r, &f)) > 0) {
        if (f.field != 1 || f.wire != 2) continue;
        pb_reader sr = pb_sub(&r, &f);
        pb_field g;
        const uint8_t *in = NULL, *exp = NULL;
        size_t in_len = 0, exp_len = 0;
        while (pb_next(&sr, &g) > 0) {
            if (g.field == 1) in = g.data, in_len = g.len;
            if (g.field == 2) exp = g.data, exp_len = g.len;
        }
        if (!in) continue;
        ids.n = 0;
        hb_tok_encode(t, NULL, (const char *)in, in_len, &ids);
        got.len = 0;
        for (size_t i = 0; i < ids.n; i++) {
            uint32_t l;
            const char *p = tok_piece(t, ids.ids[i], &l);
            if (i) hb_buf_putc(&got, ' ');
            hb_buf_append(&got, p, l);
        }
        if (got.len != exp_len || (exp_len && memcmp(got.data, exp, exp_len)))
            rc = hb_err_set(err, HB_EINTERNAL, name, HB_NOPOS, (long long)f.at,
                            "the model's self-test sample \"%.*s\" encodes to \"%.*s\", expected \"%.*s\"", (int)in_len,
                            (const char *)in, (int)got.len, got.data ? (const char *)got.data : "", (int)exp_len,
                            exp ? (const char *)exp : "");
    }
    hb_tok_ids_free(&ids);
    hb_buf_free(&got);
    return rc;
}

int tok_load_spm(hb_tokenizer *t, const uint8_t *data, size_t n, const char *name, hb_err *err) {
    pb_reader r = {data, data, data + n};
    pb_field f;
    int k, rc = 0;
    spm_spec s = {.model_type = 1, .unk_id = 0, .bos_id = 1, .eos_id = 2, .add_dummy_prefix = 1, .remove_extra_ws = 1, .escape_ws = 1};
    spm_piece *pc = NULL;
    size_t npc = 0, cap = 0;
    pb_reader selftest = {data, NULL, NULL};
    tok_strmap mergeable = {0}, reserved = {0};
    uint32_t *prio = NULL;
    int32_t *order = NULL;
    while ((k = pb_next(&r, &f)) > 0) {
        if (f.wire != 2) continue;
        pb_reader sub = pb_sub(&r, &f);
        if (f.field == 1) {
            spm_piece p = {NULL, 0, 0, TOK_T_NORMAL};
            pb_field g;
            int kk;
            while ((kk = pb_next(&sub, &g)) > 0) {
                if (g.field == 1 && g.wire == 2) p.str = g.data, p.len = g.len;
                if (g.field == 2 && g.wire == 5) {
                    uint32_t u = (uint32_t)g.v;
                    memcpy(&p.score, &u, 4);
                }
                if (g.field == 3 && g.wire == 0) p.type = (int)g.v;
            }
            if (kk < 0) {
                rc = malformed(err, name, f.at, "bad field in a piece");
                goto done;
            }
            if (npc == cap) {
                cap = cap ? cap * 2 : 1024;
                pc = hb_xrealloc(pc, cap * sizeof *pc);
            }
            pc[npc++] = p;
        } else if (f.field == 2) {
            if ((rc = parse_trainer(sub, &s, name, err))) goto done;
        } else if (f.field == 3) {
            if ((rc = parse_normalizer(sub, &s, 0, name, err))) goto done;
        } else if (f.field == 4) {
            selftest = sub;
        } else if (f.field == 5) {
            if ((rc = parse_normalizer(sub, &s, 1, name, err))) goto done;
        }
    }
    if (k < 0) {
        rc = malformed(err, name, (size_t)(r.p - r.base), "truncated or invalid field");
        goto done;
    }
    if (npc == 0 || npc > 0x7ffffff) {
        rc = malformed(err, name, 0, "no pieces");
        goto done;
    }
    if (s.model_type != 2) {
        static const char *names[] = {"?", "UNIGRAM", "BPE", "WORD", "CHAR"};
        rc = hb_err_set(err, HB_EUNSUPPORTED, name, HB_NOPOS, HB_NOPOS,
                        "this is a SentencePiece %s model; hb supports BPE models (the LLaMA family) only",
                        s.model_type >= 0 && s.model_type <= 4 ? names[s.model_type] : "unknown-type");
        goto done;
    }
    if (s.ws_suffix) {
        rc = hb_err_set(err, HB_EUNSUPPORTED, name, HB_NOPOS, HB_NOPOS, "treat_whitespace_as_suffix models are not supported");
        goto done;
    }
    if (s.dcharsmap_len) {
        rc = hb_err_set(err, HB_EUNSUPPORTED, name, HB_NOPOS, HB_NOPOS, "models with denormalization rules are not supported");
        goto done;
    }

    int32_t nv = (int32_t)npc;
    tok_pieces_init(t, nv);
    hb_buf blob = {0};
    tok_strmap_init(&mergeable, (uint32_t)nv);
    int inner_ws = 0, n_bytes = 0;
    for (int32_t i = 0; i < nv; i++) {
        const spm_piece *p = &pc[i];
        if (p->type < TOK_T_NORMAL || p->type > TOK_T_BYTE) {
            rc = hb_err_set(err, HB_EFORMAT, name, i, HB_NOPOS, "piece %d has unknown type %d", i, p->type);
            break;
        }
        if (!p->len || p->len > TOK_MAX_PIECE) {
            rc = hb_err_set(err, HB_EFORMAT, name, i, HB_NOPOS, "piece %d is %s", i, p->len ? "longer than 4096 bytes" : "empty");
            break;
        }
        if (!hb_utf8_valid(p->str, p->len) || isnan(p->score)) {
            rc = hb_err_set(err, HB_EFORMAT, name, i, HB_NOPOS, "piece %d is not valid UTF-8 or has a NaN score", i);
            break;
        }
        tok_set_piece(t, &blob, i, p->str, p->len, (uint8_t)p->type);
        int normal = p->type == TOK_T_NORMAL || p->type == TOK_T_USER || p->type == TOK_T_UNUSED;
        if (tok_strmap_put(normal ? &mergeable : &reserved, p->str, p->len, i) >= 0) {
            rc = hb_err_set(err, HB_EFORMAT, name, i, HB_NOPOS, "piece %d \"%.*s\" is already defined", i, (int)p->len,
                            (const char *)p->str);
            break;
        }
        if (p->type == TOK_T_UNKNOWN) {
            if (t->unk >= 0) {
                rc = hb_err_set(err, HB_EFORMAT, name, i, HB_NOPOS, "a second <unk> piece (%d)", i);
                break;
            }
            t->unk = i;
        }
        if (p->type == TOK_T_BYTE) {
            if (!s.byte_fallback || t->byte_of[i] < 0) {
                rc = hb_err_set(err, HB_EFORMAT, name, i, HB_NOPOS, "byte piece \"%.*s\" %s", (int)p->len, (const char *)p->str,
                                s.byte_fallback ? "is invalid" : "although byte_fallback is false");
                break;
            }
            n_bytes++;
        }
        if (!normal && hb_utf8_len(p->str, p->len) == p->len) {
            rc = hb_err_set(err, HB_EUNSUPPORTED, name, i, HB_NOPOS, "reserved piece %d \"%.*s\" is a single character", i,
                            (int)p->len, (const char *)p->str);
            break;
        }
        if (p->type == TOK_T_USER) {
            t->has_user = 1;
            tok_strmap_put(&t->user, p->str, p->len, i);
            if (p->len > t->user_max_len) t->user_max_len = (uint32_t)p->len;
            t->user_first[p->str[0] >> 3] |= (uint8_t)(1u << (p->str[0] & 7));
        }
        if (p->type == TOK_T_UNUSED) t->has_unused = 1;
        if (normal) inner_ws |= tok_piece_has_inner_ws((const char *)p->str, p->len);
    }
    t->blob = blob.data ? blob.data : hb_xmalloc(1);
    if (rc) goto done;
    if (t->unk < 0) {
        rc = hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS, "the model has no <unk> piece");
        goto done;
    }
    if (s.byte_fallback && n_bytes != 256) {
        rc = hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS,
                        "byte_fallback is true but there are %d byte pieces, not 256", n_bytes);
        goto done;
    }

    /* priorities: score descending, equal scores share one */
    prio = hb_xcalloc((size_t)nv, sizeof *prio);
    order = hb_xmalloc((size_t)nv * sizeof *order);
    int32_t m = 0;
    for (int32_t i = 0; i < nv; i++)
        if (tok_strmap_get(&mergeable, pc[i].str, pc[i].len) == i) order[m++] = i;
    qsort_r(order, (size_t)m, sizeof *order, cmp_prio, pc);
    for (int32_t j = 0; j < m; j++)
        prio[order[j]] = j > 0 && pc[order[j]].score == pc[order[j - 1]].score ? prio[order[j - 1]] : (uint32_t)j;

    /* the id reported for a final symbol: sentencepiece's PieceToId looks at reserved pieces first */
    t->canon = hb_xmalloc((size_t)nv * sizeof *t->canon);
    for (int32_t i = 0; i < nv; i++) {
        int32_t rid = tok_strmap_get(&reserved, pc[i].str, pc[i].len);
        t->canon[i] = rid >= 0 ? rid : i;
    }
    for (int32_t i = 0; i < nv; i++)
        if (tok_strmap_get(&mergeable, pc[i].str, pc[i].len) == i && hb_utf8_len(pc[i].str, pc[i].len) == pc[i].len)
            tok_add_char_symbol(t, hb_utf8_cp(pc[i].str, pc[i].len), i);
    add_splits(t, pc, &mergeable, prio);

    t->byte_fallback = s.byte_fallback;
    t->fuse_unk = 1;
    t->bos = s.bos_id >= 0 && s.bos_id < nv ? s.bos_id : -1;
    t->eos = s.eos_id >= 0 && s.eos_id < nv ? s.eos_id : -1;
    t->prefix = s.add_dummy_prefix ? TOK_PREFIX_ALWAYS : TOK_PREFIX_NONE;
    t->escape_ws = s.escape_ws;
    t->remove_extra_ws = s.remove_extra_ws;
    t->dec_strip_bos_ws = s.add_dummy_prefix || s.remove_extra_ws;
    t->dec_remove_extra_ws = s.remove_extra_ws;
    if (s.has_unk_surface) {
        t->unk_surface = hb_xmalloc(s.unk_surface_len + 1);
        memcpy(t->unk_surface, s.unk_surface, s.unk_surface_len);
        t->unk_surface_len = s.unk_surface_len;
    } else {
        t->unk_surface = hb_xstrdup(" \xE2\x81\x87 ");
        t->unk_surface_len = strlen(t->unk_surface);
    }
    snprintf(t->norm_name, sizeof t->norm_name, "%.*s", (int)(s.norm_name_len ? s.norm_name_len : 8),
             s.norm_name_len ? (const char *)s.norm_name : "identity");
    if (s.charsmap_len && (rc = tok_charsmap_load(t, s.charsmap, s.charsmap_len, name, err))) goto done;
    t->word_split = !inner_ws;
    tok_finish(t);
    if (selftest.p) rc = self_test(t, selftest, name, err);
done:
    free(pc);
    free(prio);
    free(order);
    tok_strmap_free(&mergeable);
    tok_strmap_free(&reserved);
    return rc;
}

/* lib/text/tokenizer_json.c — HuggingFace tokenizer.json (BPE model) -> hb_tokenizer.
 *
 * Dependencies: text/tokenizer_impl.h, <cjson/cJSON.h>.
 *
 * Accepted (everything else is a clear HB_EUNSUPPORTED error naming the JSON path):
 *   model:         BPE; vocab {token: id}; merges ["a b", ...] or [["a", "b"], ...] (rank = position; a pair listed
 *                  twice keeps its last rank, as `tokenizers` does); byte_fallback, fuse_unk, unk_token; no dropout,
 *                  no continuing_subword_prefix / end_of_word_suffix, no ignore_merges.
 *   normalizer:    null, or Prepend("▁") and/or Replace(" " -> "▁") (alone or in a Sequence).
 *   pre_tokenizer: null, or Metaspace(replacement "▁", split false) — prepends "▁" unless the text already starts
 *                  with one (prepend_scheme always/first), replaces " " by "▁".
 *   decoder:       null, or Replace(String), ByteFallback, Fuse, Strip, Metaspace (alone or in a Sequence).
 *   added_tokens:  used for decoding (id -> content; special ones are skipped); never matched in text.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_impl.h"

static const char *type_of(const cJSON *o) {
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(ty) ? ty->valuestring : NULL;
}

static const char *str_field(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int bool_field(const cJSON *o, const char *k, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return dflt;
}

static int is_null_or_absent(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return !v || cJSON_IsNull(v);
}

/* Replace's pattern {"String": s}; NULL for Regex patterns (unsupported). */
static const char *replace_pattern(const cJSON *o) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "pattern");
    return p ? str_field(p, "String") : NULL;
}

static int unsupported(hb_err *err, const char *name, const char *path, const char *what) {
    return hb_err_set(err, HB_EUNSUPPORTED, name, HB_NOPOS, HB_NOPOS,
                      "%s: %s (hb supports the LLaMA-family SentencePiece-BPE layout; see docs/tokenizer.md)", path,
                      what);
}

static int load_normalizer(hb_tokenizer *t, const cJSON *n, const char *name, hb_err *err) {
    if (!n || cJSON_IsNull(n)) return 0;
    const char *ty = type_of(n);
    if (!ty) return unsupported(err, name, "normalizer", "missing \"type\"");
    if (!strcmp(ty, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        if (!cJSON_IsArray(list)) return unsupported(err, name, "normalizer.normalizers", "not an array");
        const cJSON *c;
        cJSON_ArrayForEach(c, list) {
            int rc = load_normalizer(t, c, name, err);
            if (rc) return rc;
        }
        return 0;
    }
    if (!strcmp(ty, "Prepend")) {
        const char *p = str_field(n, "prepend");
        if (!p || strcmp(p, TOK_WS)) return unsupported(err, name, "normalizer Prepend", "prepend is not \"▁\"");
        t->prefix = TOK_PREFIX_ALWAYS;
        return 0;
    }
    if (!strcmp(ty, "Replace")) {
        const char *p = replace_pattern(n), *c = str_field(n, "content");
        if (!p || !c || strcmp(p, " ") || strcmp(c, TOK_WS))
            return unsupported(err, name, "normalizer Replace", "only Replace(\" \" -> \"▁\") is supported");
        t->escape_ws = 1;
        return 0;
    }
    char what[160];
    snprintf(what, sizeof what, "normalizer type \"%s\" is not supported", ty);
    return unsupported(err, name, "normalizer", what);
}

static int load_pre_tokenizer(hb_tokenizer *t, const cJSON *p, const char *name, hb_err *err) {
    if (!p || cJSON_IsNull(p)) return 0;
    const char *ty = type_of(p);
    if (ty && !strcmp(ty, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
        if (cJSON_IsArray(list) && cJSON_GetArraySize(list) == 1)
            return load_pre_tokenizer(t, cJSON_GetArrayItem(list, 0), name, err);
    }
    if (!ty || strcmp(ty, "Metaspace")) {
        char what[160];
        snprintf(what, sizeof what, "pre_tokenizer type \"%s\" is not supported", ty ? ty : "?");
        return unsupported(err, name, "pre_tokenizer", what);
    }
    const char *r = str_field(p, "replacement");
    if (!r || strcmp(r, TOK_WS)) return unsupported(err, name, "pre_tokenizer Metaspace", "replacement is not \"▁\"");
    if (bool_field(p, "split", 1))
        return unsupported(err, name, "pre_tokenizer Metaspace", "split=true (splitting at every \"▁\") is not supported");
    const char *scheme = str_field(p, "prepend_scheme");
    int prepend = scheme ? strcmp(scheme, "never") != 0 : bool_field(p, "add_prefix_space", 1);
    if (t->prefix || t->escape_ws)
        return unsupported(err, name, "pre_tokenizer", "Metaspace together with a Prepend/Replace normalizer");
    t->prefix = prepend ? TOK_PREFIX_IF_MISSING : TOK_PREFIX_NONE;
    t->escape_ws = 1;
    return 0;
}

static int add_dec(hb_tokenizer *t, tok_dec_step s) {
    t->dec = hb_xrealloc(t->dec, (size_t)(t->n_dec + 1) * sizeof *t->dec);
    t->dec[t->n_dec++] = s;
    return 0;
}

static int load_decoder(hb_tokenizer *t, const cJSON *d, const char *name, hb_err *err) {
    if (!d || cJSON_IsNull(d)) return 0;
    const char *ty = type_of(d);
    if (!ty) return unsupported(err, name, "decoder", "missing \"type\"");
    if (!strcmp(ty, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(d, "decoders");
        if (!cJSON_IsArray(list)) return unsupported(err, name, "decoder.decoders", "not an array");
        const cJSON *c;
        cJSON_ArrayForEach(c, list) {
            int rc = load_decoder(t, c, name, err);
            if (rc) return rc;
        }
        return 0;
    }
    tok_dec_step s = {0};
    if (!strcmp(ty, "Replace")) {
        const char *p = replace_pattern(d), *c = str_field(d, "content");
        if (!p || !c || !*p) return unsupported(err, name, "decoder Replace", "only String patterns are supported");
        s.kind = TOK_DEC_REPLACE;
        s.pat = hb_xstrdup(p);
        s.pat_len = strlen(p);
        s.content = hb_xstrdup(c);
        s.content_len = strlen(c);
        return add_dec(t, s);
    }
    if (!strcmp(ty, "ByteFallback")) return add_dec(t, (tok_dec_step){.kind = TOK_DEC_BYTE_FALLBACK});
    if (!strcmp(ty, "Fuse")) return add_dec(t, (tok_dec_step){.kind = TOK_DEC_FUSE});
    if (!strcmp(ty, "Strip")) {
        const char *c = str_field(d, "content");
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(d, "start"), *b = cJSON_GetObjectItemCaseSensitive(d, "stop");
        size_t cl = c ? strlen(c) : 0;
        if (!c || !cl || hb_utf8_len((const uint8_t *)c, cl) != cl || !cJSON_IsNumber(a) || !cJSON_IsNumber(b) ||
            a->valuedouble < 0 || b->valuedouble < 0)
            return unsupported(err, name, "decoder Strip", "needs one character and non-negative start/stop");
        s.kind = TOK_DEC_STRIP;
        s.strip_char = hb_utf8_cp((const uint8_t *)c, cl);
        s.start = a->valuedouble > 1e6 ? 1000000 : (int)a->valuedouble;
        s.stop = b->valuedouble > 1e6 ? 1000000 : (int)b->valuedouble;
        return add_dec(t, s);
    }
    if (!strcmp(ty, "Metaspace")) {
        const char *r = str_field(d, "replacement");
        size_t rl = r ? strlen(r) : 0;
        if (!r || !rl || hb_utf8_len((const uint8_t *)r, rl) != rl)
            return unsupported(err, name, "decoder Metaspace", "replacement must be one character");
        const char *scheme = str_field(d, "prepend_scheme");
        s.kind = TOK_DEC_METASPACE;
        s.pat = hb_xstrdup(r);
        s.pat_len = rl;
        s.start = scheme ? strcmp(scheme, "never") != 0 : bool_field(d, "add_prefix_space", 1);
        return add_dec(t, s);
    }
    char what[160];
    snprintf(what, sizeof what, "decoder type \"%s\" is not supported", ty);
    return unsupported(err, name, "decoder", what);
}

static int load_id(const cJSON *v, int32_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (d < 0 || d > 0x7ffffffe || d != floor(d)) return -1;
    *out = (int32_t)d;
    return 0;
}

int tok_load_json(hb_tokenizer *t, const char *data, size_t n, const char *name, hb_err *err) {
    cJSON *root = cJSON_ParseWithLength(data, n);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long long off = at && at >= data && at <= data + n ? (long long)(at - data) : HB_NOPOS;
        return hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, off, "invalid JSON");
    }
    int rc = 0;
    char **piece = NULL; /* id -> string (borrowed from the cJSON tree) */
    tok_strmap vocab = {0};
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *vj = model ? cJSON_GetObjectItemCaseSensitive(model, "vocab") : NULL;
    const cJSON *mj = model ? cJSON_GetObjectItemCaseSensitive(model, "merges") : NULL;
    const char *mtype = model ? type_of(model) : NULL;
    if (!cJSON_IsObject(root) || !cJSON_IsObject(model)) {
        rc = hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS, "no \"model\" object: not a tokenizer.json");
        goto done;
    }
    if ((mtype && strcmp(mtype, "BPE")) || (!mtype && !mj)) {
        char what[160];
        snprintf(what, sizeof what, "model type \"%s\" is not supported (only BPE)", mtype ? mtype : "?");
        rc = unsupported(err, name, "model", what);
        goto done;
    }
    if (!cJSON_IsObject(vj) || !cJSON_IsArray(mj)) {
        rc = hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS, "model.vocab must be an object and model.merges an array");
        goto done;
    }
    if (!is_null_or_absent(model, "dropout") ||
        (str_field(model, "continuing_subword_prefix") && *str_field(model, "continuing_subword_prefix")) ||
        (str_field(model, "end_of_word_suffix") && *str_field(model, "end_of_word_suffix")) ||
        bool_field(model, "ignore_merges", 0)) {
        rc = unsupported(err, name, "model", "dropout, continuing_subword_prefix, end_of_word_suffix and ignore_merges must be unset");
        goto done;
    }
    t->byte_fallback = bool_field(model, "byte_fallback", 0);
    t->fuse_unk = bool_field(model, "fuse_unk", 0);

    /* ids: vocab and added tokens */
    int32_t max_id = -1;
    const cJSON *c;
    cJSON_ArrayForEach(c, vj) {
        int32_t id;
        if (load_id(c, &id)) {
            rc = hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS, "model.vocab[\"%s\"]: id is not a non-negative integer",
                            c->string);
            goto done;
        }
        if (id > max_id) max_id = id;
    }
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (added && !cJSON_IsArray(added) && !cJSON_IsNull(added)) {
        rc = hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS, "added_tokens is not an array");
        goto done;
    }
    int ai = 0;
    cJSON_ArrayForEach(c, added) {
        int32_t id;
        if (load_id(cJSON_GetObjectItemCaseSensitive(c, "id"), &id) || !str_field(c, "content")) {
            rc = hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS, "added_tokens[%d]: needs an integer id and a content string", ai);
            goto done;
        }
        if (id > max_id) max_id = id;
        ai++;
    }
    if (max_id < 0) {
        rc = hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS, "model.vocab is empty");
        goto done;
    }
    int32_t nv = max_id + 1;
    piece = hb_xcalloc((size_t)nv, sizeof *piece);
    tok_strmap_init(&vocab, (uint32_t)nv);
    cJSON_ArrayForEach(c, vj) {
        int32_t id = 0;
        load_id(c, &id);
        if (piece[id]) {
            rc = hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS, "model.vocab: id %d is used by \"%s\" and \"%s\"", id,
                            piece[id], c->string);
            goto done;
        }
        piece[id] = c->string;
        tok_strmap_put(&vocab, c->string, strlen(c->string), id);
    }
    tok_strmap special_set = {0};
    cJSON_ArrayForEach(c, added) {
        int32_t id = 0;
        load_id(cJSON_GetObjectItemCaseSensitive(c, "id"), &id);
        piece[id] = cJSON_GetObjectItemCaseSensitive(c, "content")->valuestring; /* the added content wins */
        if (bool_field(c, "special", 0)) tok_strmap_put(&special_set, piece[id], strlen(piece[id]), id);
    }
    for (int32_t i = 0; i < nv; i++)
        if (piece[i] && !hb_utf8_valid((const uint8_t *)piece[i], strlen(piece[i]))) {
            tok_strmap_free(&special_set);
            rc = hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS, "the token with id %d is not valid UTF-8", i);
            goto done;
        }
    for (int32_t i = 0; i < nv; i++)
        if (!piece[i]) {
            tok_strmap_free(&special_set);
            rc = hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS, "no token has id %d (ids must be 0..%d without gaps)", i,
                            nv - 1);
            goto done;
        }

    tok_pieces_init(t, nv);
    hb_buf blob = {0};
    t->special = hb_xcalloc((size_t)nv, 1);
    int inner_ws = 0;
    for (int32_t i = 0; i < nv; i++) {
        size_t l = strlen(piece[i]);
        int sp = tok_strmap_get(&special_set, piece[i], l) >= 0;
        tok_set_piece(t, &blob, i, piece[i], l, sp ? TOK_T_CONTROL : TOK_T_NORMAL);
        t->special[i] = (uint8_t)sp;
        /* single characters of the model vocabulary are the initial symbols */
        if (tok_strmap_get(&vocab, piece[i], l) == i) {
            size_t k = l ? hb_utf8_len((const uint8_t *)piece[i], l) : 0;
            if (k == l && k) tok_add_char_symbol(t, hb_utf8_cp((const uint8_t *)piece[i], k), i);
            inner_ws |= tok_piece_has_inner_ws(piece[i], l);
        }
    }
    tok_strmap_free(&special_set);
    t->blob = blob.data ? blob.data : hb_xmalloc(1);
    /* byte fallback looks pieces up by exact string in the model vocabulary only */
    for (int b = 0; b < 256; b++) {
        char k[8];
        snprintf(k, sizeof k, "<0x%02X>", b);
        t->byte_id[b] = tok_strmap_get(&vocab, k, 6);
    }
    for (int32_t i = 0; i < nv; i++) t->byte_of[i] = -1;
    for (int b = 0; b < 256; b++)
        if (t->byte_id[b] >= 0) t->byte_of[t->byte_id[b]] = (int16_t)b;

    const char *unk = str_field(model, "unk_token");
    if (unk) {
        t->unk = tok_strmap_get(&vocab, unk, strlen(unk));
        if (t->unk < 0) {
            rc = hb_err_set(err, HB_EFORMAT, name, HB_NOPOS, HB_NOPOS, "model.unk_token \"%s\" is not in model.vocab", unk);
            goto done;
        }
    } else {
        int all_bytes = t->byte_fallback;
        for (int b = 0; b < 256; b++) all_bytes &= t->byte_id[b] >= 0;
        if (!all_bytes) {
            rc = unsupported(err, name, "model", "no unk_token and no complete byte fallback: some text could not be encoded");
            goto done;
        }
    }
    for (int32_t i = 0; i < nv; i++) {
        uint32_t l;
        const char *p = tok_piece(t, i, &l);
        if (l == 3 && !memcmp(p, "<s>", 3) && t->bos < 0) t->bos = i;
        if (l == 4 && !memcmp(p, "</s>", 4) && t->eos < 0) t->eos = i;
    }

    /* merges */
    tok_pairmap_init(&t->pairs, (uint32_t)cJSON_GetArraySize(mj));
    hb_buf tmp = {0};
    uint32_t rank = 0;
    cJSON_ArrayForEach(c, mj) {
        const char *a = NULL, *b = NULL;
        size_t al = 0, bl = 0;
        if (cJSON_IsString(c)) {
            const char *s = c->valuestring, *sp = strchr(s, ' ');
            if (sp && !strchr(sp + 1, ' ')) a = s, al = (size_t)(sp - s), b = sp + 1, bl = strlen(b);
        } else if (cJSON_IsArray(c) && cJSON_GetArraySize(c) == 2 && cJSON_IsString(cJSON_GetArrayItem(c, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(c, 1))) {
            a = cJSON_GetArrayItem(c, 0)->valuestring, al = strlen(a);
            b = cJSON_GetArrayItem(c, 1)->valuestring, bl = strlen(b);
        }
        if (!a) {
            hb_buf_free(&tmp);
            rc = hb_err_set(err, HB_EFORMAT, name, rank, HB_NOPOS, "model.merges[%u]: expected \"a b\" or [\"a\", \"b\"]", rank);
            goto done;
        }
        int32_t ia = tok_strmap_get(&vocab, a, al), ib = tok_strmap_get(&vocab, b, bl);
        tmp.len = 0;
        hb_buf_append(&tmp, a, al);
        hb_buf_append(&tmp, b, bl);
        int32_t ir = tok_strmap_get(&vocab, tmp.data, tmp.len);
        if (ia < 0 || ib < 0 || ir < 0) {
            hb_buf_free(&tmp);
            rc = hb_err_set(err, HB_EFORMAT, name, rank, HB_NOPOS, "model.merges[%u]: \"%.*s\" is not in model.vocab", rank,
                            ia < 0 ? (int)al : ib < 0 ? (int)bl : (int)(al + bl), ia < 0 ? a : ib < 0 ? b : (const char *)tmp.data);
            goto done;
        }
        tok_pairmap_put(&t->pairs, ia, ib, rank, ir);
        rank++;
    }
    hb_buf_free(&tmp);

    if ((rc = load_normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), name, err))) goto done;
    if ((rc = load_pre_tokenizer(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), name, err))) goto done;
    if ((rc = load_decoder(t, cJSON_GetObjectItemCaseSensitive(root, "decoder"), name, err))) goto done;
    snprintf(t->norm_name, sizeof t->norm_name, "%s", t->escape_ws ? "replace_space" : "none");
    t->word_split = !inner_ws;
done:
    free(piece);
    tok_strmap_free(&vocab);
    cJSON_Delete(root);
    return rc;
}

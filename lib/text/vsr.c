/* VSR caption -> yes/no question, robust (word-boundary parse) and official-compatible modes.
 * Dependencies: vsr.h, core/core.h (hb_buf). */
#include "vsr.h"

#include <string.h>

static const char *const RULE_NAMES[HB_VSR_N_RULES] = {"copula",   "copula_plural", "negated",  "contains", "has",
                                                       "consists", "plural_verb",   "question", "fallback", "official"};

const char *hb_vsr_rule_name(hb_vsr_rule r) { return r < HB_VSR_N_RULES ? RULE_NAMES[r] : "?"; }

int hb_vsr_mode_parse(const char *s) {
    if (!strcmp(s, "robust")) return HB_VSR_ROBUST;
    if (!strcmp(s, "honeybee-compat")) return HB_VSR_COMPAT;
    return -1;
}

/* Python's str.isspace() for ASCII (str.strip() with no argument strips these). */
static int py_space(unsigned char c) { return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F); }

/* ---- the official rewrite: "Is " + " ".join(x.lower().replace(".", "?").strip() for x in caption.split("is")) ---- */
static void compat(const char *cap, hb_buf *out) {
    hb_buf_puts(out, "Is ");
    const char *p = cap;
    for (int first = 1;; first = 0) {
        const char *hit = strstr(p, "is");
        size_t n = hit ? (size_t)(hit - p) : strlen(p);
        size_t a = 0, b = n;
        while (a < b && py_space((unsigned char)p[a])) a++;
        while (b > a && py_space((unsigned char)p[b - 1])) b--;
        if (!first) hb_buf_putc(out, ' ');
        for (size_t i = a; i < b; i++) {
            char c = p[i];
            if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
            if (c == '.') c = '?';
            hb_buf_putc(out, c);
        }
        if (!hit) break;
        p = hit + 2;
    }
}

/* ---- the robust rewrite ---- */
typedef struct {
    const char *s;
    size_t n;
} word;

static int word_is(word w, const char *t) { return w.n == strlen(t) && !memcmp(w.s, t, w.n); }

static void put_words(hb_buf *out, const word *w, size_t from, size_t to) {
    for (size_t i = from; i < to; i++) {
        if (i > from) hb_buf_putc(out, ' ');
        hb_buf_append(out, w[i].s, w[i].n);
    }
}

/* A capitalised determiner that starts a sentence and is lower-cased inside a question ("The cat" -> "the cat";
 * names such as "John" keep their capital). */
static int is_article(word w) {
    static const char *const ARTICLES[] = {"The", "A", "An", "This", "That", "These", "Those", "Some", NULL};
    for (int i = 0; ARTICLES[i]; i++)
        if (word_is(w, ARTICLES[i])) return 1;
    return 0;
}

static void put_subject(hb_buf *out, const word *w, size_t n) {
    size_t at = out->len;
    put_words(out, w, 0, n);
    if (is_article(w[0])) out->data[at] = (uint8_t)(out->data[at] - 'A' + 'a');
}

static void fallback(const char *cap, size_t len, hb_buf *out) {
    hb_buf_clear(out);
    hb_buf_puts(out, "Is it true that ");
    size_t at = out->len, n = 0;
    hb_buf_append(out, cap, len);
    while (n < len && !py_space((unsigned char)cap[n])) n++;
    if (n && is_article((word){cap, n})) out->data[at] = (uint8_t)(out->data[at] - 'A' + 'a');
    hb_buf_putc(out, '?');
}

hb_vsr_rule hb_vsr_rewrite(const char *caption, hb_vsr_mode mode, hb_buf *out) {
    hb_buf_clear(out);
    if (mode == HB_VSR_COMPAT) {
        compat(caption, out);
        hb_buf_cstr(out);
        return HB_VSR_OFFICIAL;
    }
    /* trim, then split into words on runs of whitespace */
    size_t len = strlen(caption);
    while (len && py_space((unsigned char)caption[len - 1])) len--;
    while (len && py_space((unsigned char)*caption)) caption++, len--;
    if (len && caption[len - 1] == '?') {
        hb_buf_append(out, caption, len);
        hb_buf_cstr(out);
        return HB_VSR_QUESTION;
    }
    size_t body = len && (caption[len - 1] == '.' || caption[len - 1] == '!') ? len - 1 : len;
    word w[128];
    size_t nw = 0;
    int multi_sentence = 0;
    for (size_t i = 0; i < body;) {
        while (i < body && py_space((unsigned char)caption[i])) i++;
        if (i >= body) break;
        size_t j = i;
        while (j < body && !py_space((unsigned char)caption[j])) j++;
        if (nw == sizeof w / sizeof *w) {
            multi_sentence = 1; /* too long to be a VSR caption: fall back */
            break;
        }
        w[nw++] = (word){caption + i, j - i};
        /* a sentence end inside: "under the couch. It is ..." */
        if ((caption[j - 1] == '.' || caption[j - 1] == '!' || caption[j - 1] == '?') && j < body) multi_sentence = 1;
        i = j;
    }
    if (nw < 3 || multi_sentence) {
        fallback(caption, body, out);
        hb_buf_cstr(out);
        return HB_VSR_FALLBACK;
    }
    static const struct {
        const char *verb, *aux, *base;
        hb_vsr_rule rule;
    } VERBS[] = {
        {"is", "Is", NULL, HB_VSR_COPULA},          {"are", "Are", NULL, HB_VSR_COPULA_PLURAL},
        {"contains", "Does", "contain", HB_VSR_CONTAINS}, {"has", "Does", "have", HB_VSR_HAS},
        {"consists", "Does", "consist", HB_VSR_CONSISTS}, {"contain", "Do", "contain", HB_VSR_PLURAL_VERB},
        {"have", "Do", "have", HB_VSR_PLURAL_VERB},   {"consist", "Do", "consist", HB_VSR_PLURAL_VERB},
    };
    /* the first verb word after a non-empty subject, with a non-empty rest */
    for (size_t v = 1; v + 1 < nw; v++)
        for (size_t k = 0; k < sizeof VERBS / sizeof *VERBS; k++) {
            if (!word_is(w[v], VERBS[k].verb)) continue;
            hb_vsr_rule rule = VERBS[k].rule;
            if (!VERBS[k].base && word_is(w[v + 1], "not")) rule = HB_VSR_NEGATED;
            hb_buf_puts(out, VERBS[k].aux);
            hb_buf_putc(out, ' ');
            put_subject(out, w, v);
            if (VERBS[k].base) {
                hb_buf_putc(out, ' ');
                hb_buf_puts(out, VERBS[k].base);
            }
            hb_buf_putc(out, ' ');
            put_words(out, w, v + 1, nw);
            hb_buf_putc(out, '?');
            hb_buf_cstr(out);
            return rule;
        }
    fallback(caption, body, out);
    hb_buf_cstr(out);
    return HB_VSR_FALLBACK;
}

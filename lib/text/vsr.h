/* lib/text/vsr — VSR caption-to-question rewriting (spec-data.md §3): "The cat is inside the refrigerator." ->
 * "Is the cat inside the refrigerator?", the question Honeybee's `vsr` template asks as {question_interro}.
 *
 * Dependencies: core/core.h (hb_buf).
 *
 * Two modes:
 *  - HB_VSR_ROBUST parses the caption on word boundaries: "<S> is|are <R>" -> "Is|Are <S> <R>?", and the verb
 *    relations "<S> contains|has|consists <R>" -> "Does <S> contain|have|consist <R>?" ("contain|have|consist" after
 *    a plural subject -> "Do ..."). Only the final period is replaced; the casing of the caption is kept except for
 *    the leading article ("The" -> "the"). A caption that is already a question is kept. Anything else (no verb, an
 *    empty subject or rest, several sentences) falls back to "Is it true that <caption>?", which stays a
 *    grammatical yes/no question with the caption intact.
 *  - HB_VSR_COMPAT reproduces the official rewrite byte for byte: split on every substring "is", lower-case each
 *    piece, replace every "." with "?", strip whitespace, join with single spaces, prefix "Is " (so "The cake
 *    consists of the banana." -> "Is the cake cons ts of the banana?"). Lower-casing and stripping follow Python
 *    for ASCII text; non-ASCII bytes are kept as they are (Python would lower-case non-ASCII capitals too; the
 *    official VSR files are pure ASCII). */
#ifndef HB_VSR_H
#define HB_VSR_H

#include "core/core.h"

typedef enum { HB_VSR_ROBUST = 0, HB_VSR_COMPAT = 1 } hb_vsr_mode;

/* Which rule produced a question (the per-rule report of hb-prep's stats). */
typedef enum {
    HB_VSR_COPULA = 0,     /* "<S> is <R>" -> "Is <S> <R>?" */
    HB_VSR_COPULA_PLURAL,  /* "<S> are <R>" -> "Are <S> <R>?" */
    HB_VSR_NEGATED,        /* a copula followed by "not" (grammatical; the yes/no polarity follows the caption) */
    HB_VSR_CONTAINS,       /* "<S> contains <R>" -> "Does <S> contain <R>?" */
    HB_VSR_HAS,            /* "<S> has <R>" (incl. "has as a part") -> "Does <S> have <R>?" */
    HB_VSR_CONSISTS,       /* "<S> consists <R>" -> "Does <S> consist <R>?" */
    HB_VSR_PLURAL_VERB,    /* "<S> contain|have|consist <R>" -> "Do <S> ... <R>?" */
    HB_VSR_QUESTION,       /* already a question: kept */
    HB_VSR_FALLBACK,       /* "Is it true that <caption>?" */
    HB_VSR_OFFICIAL,       /* compat mode: the official naive rewrite */
    HB_VSR_N_RULES
} hb_vsr_rule;

/* Rewrite caption into out (cleared first). Returns the rule used. */
hb_vsr_rule hb_vsr_rewrite(const char *caption, hb_vsr_mode mode, hb_buf *out);
const char *hb_vsr_rule_name(hb_vsr_rule r); /* "copula", "contains", ..., "fallback", "official" */
/* "robust" / "honeybee-compat" -> mode; -1 when unknown. */
int hb_vsr_mode_parse(const char *s);

#endif

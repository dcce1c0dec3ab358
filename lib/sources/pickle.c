/* A safe reader for Python's pickle format as data (pickle.h): enough for RefCOCO's refs(unc|umd|google).p (Python 2
 * cPickle dumps of a list of dicts of str/int/float/list) in data mode, and for torch checkpoints' data.pkl in object
 * mode, where GLOBAL/STACK_GLOBAL, REDUCE, NEWOBJ, BUILD and PERSID/BINPERSID become inert nodes for the caller to
 * match. It interprets opcodes on a value stack and builds a cJSON tree; it never imports or calls anything.
 * Dependencies: pickle.h (hb_pickle_*), <cjson/cJSON.h>, core/core.h (hb_file_read_all, hb_buf). */
#include "pickle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STACK (1 << 20)
#define MAX_MEMO (1u << 26)
/* Containers nest at most this deep (cJSON frees, copies and prints trees recursively; RefCOCO nests 4 deep). */
#define MAX_DEPTH 1000

typedef struct {
    const uint8_t *p, *end, *start;
    const char *name;
    cJSON **stack; /* values; NULL entries are marks */
    uint32_t *depth; /* nesting depth of each stack value (a scalar or an empty container is 1) */
    size_t n, cap;
    uint64_t copy_budget; /* nodes GET and DUP may still copy: memo references cost what they expand to */
    cJSON **memo;  /* borrowed pointers into the tree (or the graveyard) */
    size_t n_memo;
    cJSON *graveyard; /* popped values stay alive here so the memo never dangles */
    hb_err *err;
    long long op_at;
    int objects; /* object mode: GLOBAL, REDUCE, NEWOBJ, BUILD, PERSID build inert nodes */
} pk;

static int bad(pk *k, const char *what) {
    return hb_err_set(k->err, HB_EFORMAT, k->name, HB_NOPOS, k->op_at, "pickle: %s", what);
}

static int push(pk *k, cJSON *v, uint32_t depth) {
    if (k->n == MAX_STACK) {
        cJSON_Delete(v);
        return bad(k, "value stack too deep");
    }
    if (depth > MAX_DEPTH) {
        cJSON_Delete(v);
        return bad(k, "containers nested more than 1000 deep");
    }
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 256;
        k->stack = hb_xrealloc(k->stack, k->cap * sizeof *k->stack);
        k->depth = hb_xrealloc(k->depth, k->cap * sizeof *k->depth);
    }
    k->depth[k->n] = depth;
    k->stack[k->n++] = v;
    return 0;
}

/* 1 + the deepest of stack values [from, to) (the depth of a container holding them). */
static uint32_t depth_over(const pk *k, size_t from, size_t to) {
    uint32_t d = 0;
    for (size_t i = from; i < to; i++)
        if (k->depth[i] > d) d = k->depth[i];
    return d + 1;
}

static int is_node(const cJSON *v) { return v && (v->type & HB_PICKLE_NODE); }

const char *hb_pickle_node_kind(const cJSON *v) {
    static const char *const kinds[] = {"global", "reduce", "newobj", "persid"};
    if (!is_node(v)) return NULL;
    for (int i = 0; i < 4; i++)
        if (cJSON_GetObjectItemCaseSensitive(v, kinds[i])) return kinds[i];
    return NULL;
}

/* An inert node {key: v} (v may be NULL: no member yet). */
static cJSON *new_node(const char *key, cJSON *v) {
    cJSON *o = cJSON_CreateObject();
    o->type |= HB_PICKLE_NODE;
    if (v) cJSON_AddItemToObject(o, key, v);
    return o;
}

/* What SETITEM(S) (dict = 1) or APPEND(S) fill in value v: v itself when it is a dict / list, an inert node's
 * "items" / "list" in object mode (created on first use), else NULL. */
static cJSON *fill_target(pk *k, cJSON *v, int dict) {
    if (!v) return NULL;
    if (k->objects && is_node(v)) {
        const char *key = dict ? "items" : "list";
        cJSON *c = cJSON_GetObjectItemCaseSensitive(v, key);
        if (!c) cJSON_AddItemToObject(v, key, c = dict ? cJSON_CreateObject() : cJSON_CreateArray());
        return c;
    }
    return (dict ? cJSON_IsObject(v) : cJSON_IsArray(v)) ? v : NULL;
}

/* Container k->stack[at] receives the values [from, to) (one level lower for an inert node's items / list): its
 * depth grows; fails when it grows too deep. */
static int grow(pk *k, size_t at, size_t from, size_t to) {
    uint32_t d = depth_over(k, from, to) + (uint32_t)is_node(k->stack[at]);
    if (d > k->depth[at]) k->depth[at] = d;
    return d > MAX_DEPTH ? bad(k, "containers nested more than 1000 deep") : 0;
}

/* A copy of v for GET / DUP, charged to the copy budget: a few bytes of memo references must not expand into
 * gigabytes of tree (each copy is as large as what it copies). *depth receives the copy's nesting depth. */
static cJSON *copy_value(pk *k, const cJSON *v, uint32_t *depth) {
    const cJSON *path[MAX_DEPTH + 1];
    uint32_t d = 1, n = 0;
    uint64_t nodes = 0;
    path[0] = v;
    const cJSON *c = v->child;
    for (;;) { /* pre-order walk; path[0..n] is the chain from v down to the current container */
        if (++nodes > k->copy_budget) return NULL;
        if (c) {
            if (n + 2 > d) d = n + 2;
            if (d > MAX_DEPTH) return NULL;
            path[++n] = c;
            c = c->child;
            continue;
        }
        while (n > 0 && !path[n]->next) n--;
        if (n == 0) break;
        path[n] = path[n]->next;
        c = path[n]->child;
    }
    k->copy_budget -= nodes;
    *depth = d;
    return cJSON_Duplicate(v, 1);
}

static int need(pk *k, size_t n) { return (size_t)(k->end - k->p) < n ? bad(k, "data ends inside an opcode") : 0; }

static uint64_t le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static long find_mark(pk *k) {
    for (size_t i = k->n; i > 0; i--)
        if (!k->stack[i - 1]) return (long)(i - 1);
    return -1;
}

/* Text up to the next '\n' (protocol 0 arguments). */
static int line(pk *k, const char **s, size_t *n) {
    const uint8_t *nl = memchr(k->p, '\n', (size_t)(k->end - k->p));
    if (!nl) return bad(k, "text argument without a newline");
    *s = (const char *)k->p;
    *n = (size_t)(nl - k->p);
    k->p = nl + 1;
    return 0;
}


/* Python 2 str bytes: kept when valid UTF-8, otherwise read as Latin-1 (so the tree is always valid UTF-8). */
static cJSON *bytes_value(const uint8_t *s, size_t n) {
    hb_buf b = {0};
    size_t i = 0;
    int valid = 1;
    while (i < n && valid) {
        uint8_t c = s[i];
        int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (!len || i + (size_t)len > n) valid = 0;
        for (int j = 1; valid && j < len; j++)
            if ((s[i + j] & 0xC0) != 0x80) valid = 0;
        if (c == 0) valid = 0; /* cJSON strings are NUL-terminated */
        i += len ? (size_t)len : 1;
    }
    if (valid) hb_buf_append(&b, s, n);
    else
        for (i = 0; i < n; i++) hb_buf_put_utf8(&b, s[i] ? s[i] : 0xFFFD);
    cJSON *v = cJSON_CreateString(hb_buf_cstr(&b));
    hb_buf_free(&b);
    return v;
}

static int hexval(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* S'...'\n: a Python 2 repr() of a str. */
static int text_string(pk *k, const char *s, size_t n, cJSON **out) {
    if (n < 2 || (s[0] != '\'' && s[0] != '"') || s[n - 1] != s[0]) return bad(k, "S: not a quoted string");
    hb_buf b = {0};
    for (size_t i = 1; i + 1 < n; i++) {
        if (s[i] != '\\') {
            hb_buf_putc(&b, s[i]);
            continue;
        }
        if (++i + 1 > n - 1) break;
        char c = s[i];
        const char *map = "n\nt\tr\r\\\\''\"\"a\ab\bf\fv\v";
        const char *m = NULL;
        for (const char *q = map; *q; q += 2)
            if (*q == c) m = q;
        if (m) hb_buf_putc(&b, m[1]);
        else if (c == 'x' && i + 2 < n - 1 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            hb_buf_putc(&b, hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (c >= '0' && c <= '7') {
            int v = 0, d = 0;
            while (d < 3 && i < n - 1 && s[i] >= '0' && s[i] <= '7') v = v * 8 + (s[i++] - '0'), d++;
            i--;
            hb_buf_putc(&b, v & 0xFF);
        } else {
            hb_buf_putc(&b, '\\');
            hb_buf_putc(&b, c);
        }
    }
    *out = bytes_value(b.data ? b.data : (const uint8_t *)"", b.len);
    hb_buf_free(&b);
    return 0;
}

/* V...\n: raw-unicode-escape (\u + 4 hex digits, \U + 8 hex digits; other bytes are Latin-1 code points). */
static cJSON *raw_unicode(const char *s, size_t n) {
    hb_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        unsigned cp = (uint8_t)s[i];
        if (s[i] == '\\' && i + 1 < n && (s[i + 1] == 'u' || s[i + 1] == 'U')) {
            int w = s[i + 1] == 'u' ? 4 : 8;
            unsigned v = 0;
            int ok = i + 2 + (size_t)w <= n;
            for (int j = 0; ok && j < w; j++) {
                int h = hexval(s[i + 2 + j]);
                if (h < 0) ok = 0;
                else v = v * 16 + (unsigned)h;
            }
            if (ok && v <= 0x10FFFF) {
                cp = v;
                i += 1 + (size_t)w;
            }
        }
        hb_buf_put_utf8(&b, cp ? cp : 0xFFFD);
    }
    cJSON *v = cJSON_CreateString(hb_buf_cstr(&b));
    hb_buf_free(&b);
    return v;
}

static int utf8_value(pk *k, size_t n, cJSON **out) {
    int rc = need(k, n);
    if (rc) return rc;
    char *t = hb_xmalloc(n + 1);
    memcpy(t, k->p, n);
    t[n] = 0;
    if (memchr(t, 0, n)) {
        free(t);
        return bad(k, "a NUL inside a unicode string");
    }
    *out = cJSON_CreateString(t);
    free(t);
    k->p += n;
    return 0;
}

/* dict keys must be strings in JSON: ints and floats are written in decimal, None/bools by name. */
static const char *key_text(const cJSON *v, char *buf, size_t n) {
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 9e15) snprintf(buf, n, "%lld", (long long)d);
        else snprintf(buf, n, "%.17g", d);
        return buf;
    }
    if (cJSON_IsNull(v)) return "None";
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "True" : "False";
    return NULL;
}

static void discard(pk *k, cJSON *v) {
    if (v) cJSON_AddItemToArray(k->graveyard, v);
}

static int set_items(pk *k, cJSON *dict, size_t from) {
    if ((k->n - from) % 2) return bad(k, "SETITEMS with an odd number of values");
    char buf[64];
    for (size_t i = from; i < k->n; i += 2)
        if (!k->stack[i] || !k->stack[i + 1] || !key_text(k->stack[i], buf, sizeof buf))
            return bad(k, "a dict key that is not a string or number");
    for (size_t i = from; i < k->n; i += 2) {
        const char *key = key_text(k->stack[i], buf, sizeof buf);
        discard(k, cJSON_DetachItemFromObjectCaseSensitive(dict, key)); /* a repeated key: the last one wins */
        cJSON_AddItemToObject(dict, key, k->stack[i + 1]);
        discard(k, k->stack[i]);
    }
    k->n = from;
    return 0;
}

/* Object mode: GLOBAL, STACK_GLOBAL, REDUCE, NEWOBJ, BUILD, PERSID, BINPERSID as inert nodes (pickle.h). *v receives
 * the value to push (NULL for BUILD, which changes the node below its state), *vd its depth. */
static int object_op(pk *k, uint8_t op, cJSON **v, uint32_t *vd) {
    const char *s;
    size_t n;
    int rc;
    *v = NULL;
    if (op == 'c' || op == 0x93) { /* GLOBAL "module\nname\n" / STACK_GLOBAL module name */
        hb_buf b = {0};
        if (op == 'c') {
            if ((rc = line(k, &s, &n))) return rc;
            hb_buf_append(&b, s, n);
            hb_buf_putc(&b, '.');
            if ((rc = line(k, &s, &n))) {
                hb_buf_free(&b);
                return rc;
            }
            hb_buf_append(&b, s, n);
        } else {
            if (k->n < 2 || !cJSON_IsString(k->stack[k->n - 1]) || !cJSON_IsString(k->stack[k->n - 2]) ||
                is_node(k->stack[k->n - 1]) || is_node(k->stack[k->n - 2]))
                return bad(k, "STACK_GLOBAL without a module and a name");
            hb_buf_printf(&b, "%s.%s", k->stack[k->n - 2]->valuestring, k->stack[k->n - 1]->valuestring);
            discard(k, k->stack[--k->n]);
            discard(k, k->stack[--k->n]);
        }
        if (memchr(hb_buf_cstr(&b), 0, b.len)) {
            hb_buf_free(&b);
            return bad(k, "a NUL in a global's name");
        }
        *v = new_node("global", bytes_value(b.data, b.len));
        *vd = 2;
        hb_buf_free(&b);
        return 0;
    }
    if (op == 'P') { /* PERSID: a text id */
        if ((rc = line(k, &s, &n))) return rc;
        *v = new_node("persid", bytes_value((const uint8_t *)s, n));
        *vd = 2;
        return 0;
    }
    if (op == 'Q') { /* BINPERSID: the id is the top value */
        if (!k->n || !k->stack[k->n - 1]) return bad(k, "BINPERSID of nothing");
        *vd = k->depth[k->n - 1] + 1;
        *v = new_node("persid", k->stack[--k->n]);
        return 0;
    }
    if (op == 'b') { /* BUILD: node.state = the top value */
        if (k->n < 2 || !k->stack[k->n - 1] || !is_node(k->stack[k->n - 2]))
            return bad(k, "BUILD on a value that is not an object");
        if ((rc = grow(k, k->n - 2, k->n - 1, k->n))) return rc;
        cJSON *node = k->stack[k->n - 2];
        discard(k, cJSON_DetachItemFromObjectCaseSensitive(node, "state"));
        cJSON_AddItemToObject(node, "state", k->stack[--k->n]);
        return 0;
    }
    /* REDUCE callable args / NEWOBJ cls args */
    if (k->n < 2 || !k->stack[k->n - 1] || !k->stack[k->n - 2] || !cJSON_IsArray(k->stack[k->n - 1]))
        return bad(k, op == 'R' ? "REDUCE without a callable and an argument tuple"
                                : "NEWOBJ without a class and an argument tuple");
    *vd = depth_over(k, k->n - 2, k->n);
    cJSON *args = k->stack[--k->n];
    *v = new_node(op == 'R' ? "reduce" : "newobj", k->stack[--k->n]);
    cJSON_AddItemToObject(*v, "args", args);
    return 0;
}

static int run(pk *k) {
    while (k->p < k->end) {
        k->op_at = k->p - k->start;
        uint8_t op = *k->p++;
        cJSON *v = NULL;
        uint32_t vd = 1; /* depth of v */
        const char *s;
        size_t n;
        int rc = 0;
        long m;
        switch (op) {
        case 0x80: /* PROTO */
            if ((rc = need(k, 1))) return rc;
            if (*k->p > 5) return bad(k, "unsupported protocol");
            k->p++;
            continue;
        case 0x95: /* FRAME */
            if ((rc = need(k, 8))) return rc;
            k->p += 8;
            continue;
        case '.': /* STOP */
            if (k->n != 1 || !k->stack[0]) return bad(k, "STOP with a stack that is not one value");
            return 0;
        case '(':
            if ((rc = push(k, NULL, 0))) return rc;
            continue;
        case ']': v = cJSON_CreateArray(); break;
        case ')': v = cJSON_CreateArray(); break;
        case '}': v = cJSON_CreateObject(); break;
        case 'N': v = cJSON_CreateNull(); break;
        case 0x88: v = cJSON_CreateTrue(); break;
        case 0x89: v = cJSON_CreateFalse(); break;
        case 'J': if ((rc = need(k, 4))) return rc; v = cJSON_CreateNumber((double)(int32_t)le(k->p, 4)); k->p += 4; break;
        case 'K': if ((rc = need(k, 1))) return rc; v = cJSON_CreateNumber(*k->p++); break;
        case 'M': if ((rc = need(k, 2))) return rc; v = cJSON_CreateNumber((double)le(k->p, 2)); k->p += 2; break;
        case 0x8a: case 0x8b: { /* LONG1 / LONG4: little-endian two's complement */
            int w = op == 0x8a ? 1 : 4;
            if ((rc = need(k, (size_t)w))) return rc;
            uint64_t len = le(k->p, w);
            k->p += w;
            if (len > 8) return bad(k, "an integer wider than 64 bits");
            if ((rc = need(k, len))) return rc;
            uint64_t u = le(k->p, (int)len);
            if (len && len < 8 && (k->p[len - 1] & 0x80)) u |= ~0ull << (8 * len);
            v = cJSON_CreateNumber((double)(int64_t)u);
            k->p += len;
            break;
        }
        case 'G': { /* BINFLOAT: big-endian double */
            if ((rc = need(k, 8))) return rc;
            uint64_t u = 0;
            for (int i = 0; i < 8; i++) u = u << 8 | k->p[i];
            double d;
            memcpy(&d, &u, 8);
            if (!isfinite(d)) return bad(k, "a float that is not finite (JSON cannot hold it)");
            v = cJSON_CreateNumber(d);
            k->p += 8;
            break;
        }
        case 'I': case 'L': case 'F': { /* protocol 0 numbers */
            if ((rc = line(k, &s, &n))) return rc;
            char t[64];
            if (n == 0 || n >= sizeof t) return bad(k, "bad number text");
            memcpy(t, s, n);
            t[n] = 0;
            if (op == 'L' && t[n - 1] == 'L') t[n - 1] = 0;
            if (op == 'I' && (!strcmp(t, "01") || !strcmp(t, "00"))) {
                v = cJSON_CreateBool(t[1] == '1');
                break;
            }
            char *e;
            double d = op == 'F' ? strtod(t, &e) : (double)strtoll(t, &e, 10);
            if (*e || !isfinite(d)) return bad(k, "bad number text");
            v = cJSON_CreateNumber(d);
            break;
        }
        case 'S': if ((rc = line(k, &s, &n)) || (rc = text_string(k, s, n, &v))) return rc; break;
        case 'V': if ((rc = line(k, &s, &n))) return rc; v = raw_unicode(s, n); break;
        case 'T': case 'U': case 'B': case 'C': case 0x8e: { /* byte strings */
            int w = op == 'U' || op == 'C' ? 1 : op == 0x8e ? 8 : 4;
            if ((rc = need(k, (size_t)w))) return rc;
            uint64_t len = le(k->p, w);
            k->p += w;
            if ((rc = need(k, len))) return rc;
            v = bytes_value(k->p, (size_t)len);
            k->p += len;
            break;
        }
        case 'X': case 0x8c: case 0x8d: { /* BINUNICODE, SHORT_BINUNICODE, BINUNICODE8 */
            int w = op == 0x8c ? 1 : op == 'X' ? 4 : 8;
            if ((rc = need(k, (size_t)w))) return rc;
            uint64_t len = le(k->p, w);
            k->p += w;
            if ((rc = utf8_value(k, (size_t)len, &v))) return rc;
            break;
        }
        case 'l': case 't': case 'd': /* LIST / TUPLE / DICT from the mark */
            if ((m = find_mark(k)) < 0) return bad(k, "no mark");
            vd = depth_over(k, (size_t)m + 1, k->n);
            if (op == 'd') {
                v = cJSON_CreateObject();
                if ((rc = set_items(k, v, (size_t)m + 1))) {
                    cJSON_Delete(v);
                    return rc;
                }
            } else {
                v = cJSON_CreateArray();
                for (size_t i = (size_t)m + 1; i < k->n; i++) cJSON_AddItemToArray(v, k->stack[i]);
            }
            k->n = (size_t)m;
            break;
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            size_t c = (size_t)(op - 0x84);
            if (k->n < c) return bad(k, "stack underflow");
            for (size_t i = k->n - c; i < k->n; i++) /* before taking any: on error the stack still owns them */
                if (!k->stack[i]) return bad(k, "a mark inside a tuple");
            v = cJSON_CreateArray();
            vd = depth_over(k, k->n - c, k->n);
            for (size_t i = k->n - c; i < k->n; i++) cJSON_AddItemToArray(v, k->stack[i]);
            k->n -= c;
            break;
        }
        case 'a': { /* APPEND */
            cJSON *t = k->n < 2 ? NULL : fill_target(k, k->stack[k->n - 2], 0);
            if (!t || !k->stack[k->n - 1]) return bad(k, "APPEND to a non-list");
            if ((rc = grow(k, k->n - 2, k->n - 1, k->n))) return rc;
            cJSON_AddItemToArray(t, k->stack[k->n - 1]);
            k->n--;
            continue;
        }
        case 'e': { /* APPENDS */
            if ((m = find_mark(k)) < 0) return bad(k, "no mark");
            cJSON *t = m < 1 ? NULL : fill_target(k, k->stack[m - 1], 0);
            if (!t) return bad(k, "APPENDS to a non-list");
            if ((rc = grow(k, (size_t)m - 1, (size_t)m + 1, k->n))) return rc;
            for (size_t i = (size_t)m + 1; i < k->n; i++) cJSON_AddItemToArray(t, k->stack[i]);
            k->n = (size_t)m;
            continue;
        }
        case 's': { /* SETITEM */
            cJSON *t = k->n < 3 ? NULL : fill_target(k, k->stack[k->n - 3], 1);
            if (!t || !k->stack[k->n - 1] || !k->stack[k->n - 2]) return bad(k, "SETITEM on a non-dict");
            if ((rc = grow(k, k->n - 3, k->n - 1, k->n))) return rc;
            if ((rc = set_items(k, t, k->n - 2))) return rc;
            continue;
        }
        case 'u': { /* SETITEMS */
            if ((m = find_mark(k)) < 0) return bad(k, "no mark");
            cJSON *t = m < 1 ? NULL : fill_target(k, k->stack[m - 1], 1);
            if (!t) return bad(k, "SETITEMS on a non-dict");
            for (size_t i = (size_t)m + 1; i < k->n; i++)
                if (!k->stack[i]) return bad(k, "a mark inside SETITEMS");
            if ((rc = grow(k, (size_t)m - 1, (size_t)m + 1, k->n))) return rc;
            if ((rc = set_items(k, t, (size_t)m + 1))) return rc;
            k->n = (size_t)m; /* drop the mark */
            continue;
        }
        case '0': /* POP */
            if (!k->n) return bad(k, "stack underflow");
            discard(k, k->stack[--k->n]);
            continue;
        case '1': /* POP_MARK */
            if ((m = find_mark(k)) < 0) return bad(k, "no mark");
            while (k->n > (size_t)m + 1) discard(k, k->stack[--k->n]);
            k->n = (size_t)m;
            continue;
        case '2': /* DUP */
            if (!k->n || !k->stack[k->n - 1]) return bad(k, "DUP of nothing");
            if (!(v = copy_value(k, k->stack[k->n - 1], &vd))) return bad(k, "copies expand too much (DUP)");
            break;
        case 'p': case 'q': case 'r': case 0x94: { /* PUT, BINPUT, LONG_BINPUT, MEMOIZE */
            uint64_t idx;
            if (op == 'p') {
                if ((rc = line(k, &s, &n))) return rc;
                char t[32];
                if (!n || n >= sizeof t) return bad(k, "bad memo index");
                memcpy(t, s, n);
                t[n] = 0;
                idx = strtoull(t, NULL, 10);
            } else if (op == 0x94) idx = k->n_memo;
            else {
                int w = op == 'q' ? 1 : 4;
                if ((rc = need(k, (size_t)w))) return rc;
                idx = le(k->p, w);
                k->p += w;
            }
            if (!k->n || !k->stack[k->n - 1]) return bad(k, "PUT of nothing");
            /* picklers number memo entries as they write objects (Python 2's cPickle with gaps): an index far beyond
             * the bytes read so far is not a real pickle, and would make a 9-byte input allocate a 512 MB memo */
            if (idx >= MAX_MEMO || idx > (uint64_t)(k->p - k->start) + 1024) return bad(k, "memo index too large");
            if (idx >= k->n_memo) {
                k->memo = hb_xrealloc(k->memo, (idx + 1) * sizeof *k->memo);
                memset(k->memo + k->n_memo, 0, (idx + 1 - k->n_memo) * sizeof *k->memo);
                k->n_memo = idx + 1;
            }
            k->memo[idx] = k->stack[k->n - 1];
            continue;
        }
        case 'g': case 'h': case 'j': { /* GET, BINGET, LONG_BINGET: a copy (a cJSON node has one parent) */
            uint64_t idx;
            if (op == 'g') {
                if ((rc = line(k, &s, &n))) return rc;
                char t[32];
                if (!n || n >= sizeof t) return bad(k, "bad memo index");
                memcpy(t, s, n);
                t[n] = 0;
                idx = strtoull(t, NULL, 10);
            } else {
                int w = op == 'h' ? 1 : 4;
                if ((rc = need(k, (size_t)w))) return rc;
                idx = le(k->p, w);
                k->p += w;
            }
            if (idx >= k->n_memo || !k->memo[idx]) return bad(k, "GET of an unset memo entry");
            if (!(v = copy_value(k, k->memo[idx], &vd))) return bad(k, "memo references expand too much (GET)");
            break;
        }
        case 'c': case 0x93: case 'R': case 'b': case 0x81: case 'P': case 'Q':
            if (!k->objects) return bad(k, "opcode that imports or calls code (refused: only data pickles are read)");
            if ((rc = object_op(k, op, &v, &vd))) return rc;
            if (!v) continue; /* BUILD changed a node in place */
            break;
        case 'i': case 'o': case 0x92: case 0x82: case 0x83: case 0x84:
            return bad(k, k->objects ? "INST, OBJ, NEWOBJ_EX or an extension code: not a shape torch.save writes"
                                     : "opcode that imports or calls code (refused: only data pickles are read)");
        default: {
            char msg[64];
            snprintf(msg, sizeof msg, "unknown or unsupported opcode 0x%02x", op);
            return bad(k, msg);
        }
        }
        if (rc) return rc;
        if (!v) return bad(k, "out of memory");
        if ((rc = push(k, v, vd))) return rc;
    }
    k->op_at = k->p - k->start;
    return bad(k, "data ends before STOP (truncated file?)");
}

static int parse(const uint8_t *data, size_t len, const char *name, int objects, cJSON **out, hb_err *err) {
    pk k = {.p = data, .end = data + len, .start = data, .name = name, .err = err, .copy_budget = 4ull * len + 65536,
            .objects = objects};
    k.graveyard = cJSON_CreateArray();
    *out = NULL;
    int rc = run(&k);
    if (!rc) {
        *out = k.stack[0];
        k.n = 0;
    }
    for (size_t i = 0; i < k.n; i++) cJSON_Delete(k.stack[i]);
    free(k.stack);
    free(k.depth);
    free(k.memo);
    cJSON_Delete(k.graveyard);
    return rc;
}

int hb_pickle_parse(const uint8_t *data, size_t len, const char *name, cJSON **out, hb_err *err) {
    return parse(data, len, name, 0, out, err);
}

int hb_pickle_parse_objects(const uint8_t *data, size_t len, const char *name, cJSON **out, hb_err *err) {
    return parse(data, len, name, 1, out, err);
}

int hb_pickle_load(const char *path, cJSON **out, hb_err *err) {
    uint8_t *d;
    size_t n;
    int rc = hb_file_read_all(path, &d, &n, err);
    if (rc) return rc;
    rc = hb_pickle_parse(d, n, path, out, err);
    free(d);
    return rc;
}

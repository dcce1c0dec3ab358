/* model/torchbin.c — torch.save zip checkpoints as tensors (torchbin.h): find <top>/data.pkl, read it with the safe
 * pickle reader in object mode, refuse every Python global outside the allow-list, then match the state dict's
 * shapes (OrderedDict / dict of _rebuild_tensor_v2 over persistent-id storages) and point each tensor into the
 * mapped storage entry (or copy a strided view once).
 *
 * Dependencies:
 *   model/torchbin.h     the API, hb_zip (torchbin_zip.c)
 *   sources/pickle.h     hb_pickle_parse_objects, hb_pickle_node_kind (inert nodes)
 *   core/core.h          hb_err, hb_buf, hb_xmalloc
 *   <cjson/cJSON.h>      the pickle tree
 */
#include "model/torchbin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sources/pickle.h"

#define MAX_INT 9007199254740992.0 /* 2^53: larger pickled ints lost precision in the tree */

struct hb_tb_file {
    cJSON *tree;      /* data.pkl: the tensor names point into it */
    void **copies;    /* strided views copied at open */
    size_t ncopies;
};

typedef struct {
    int used;
    hb_st_dtype dtype;
    int64_t numel;
} slot; /* what the pickle says of the storage in one zip entry */

typedef struct {
    const char *path;
    const uint8_t *map;
    size_t size;
    int file;
    hb_zip z;
    slot *slots;
    char *top; /* "<top>/" */
    hb_tb_file *keep;
    hb_st_tensor *t;
    size_t n, cap;
    uint64_t copied;
    hb_err *err;
} tb;

static const struct {
    const char *name;
    hb_st_dtype dtype;
} STORAGES[] = {
    {"torch.FloatStorage", HB_ST_F32},   {"torch.HalfStorage", HB_ST_F16},   {"torch.BFloat16Storage", HB_ST_BF16},
    {"torch.DoubleStorage", HB_ST_F64},  {"torch.LongStorage", HB_ST_I64},   {"torch.IntStorage", HB_ST_I32},
    {"torch.ShortStorage", HB_ST_I16},   {"torch.CharStorage", HB_ST_I8},    {"torch.ByteStorage", HB_ST_U8},
    {"torch.BoolStorage", HB_ST_BOOL},   {"torch.UntypedStorage", HB_ST_U8}, {"torch.storage.UntypedStorage", HB_ST_U8},
};
static const char *const OTHER_GLOBALS[] = {
    "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
    "torch.float32", "torch.float", "torch.float16", "torch.half", "torch.bfloat16", "torch.float64", "torch.double",
    "torch.int64", "torch.long", "torch.int32", "torch.int", "torch.int16", "torch.short", "torch.int8", "torch.uint8",
    "torch.bool",
};
#define NSTORAGES (sizeof STORAGES / sizeof *STORAGES)
#define NOTHER (sizeof OTHER_GLOBALS / sizeof *OTHER_GLOBALS)

hb_tb_kind hb_tb_sniff(const uint8_t *p, size_t n) {
    static const uint8_t magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    if (n >= 4 && p[0] == 'P' && p[1] == 'K' && ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6)))
        return HB_TB_ZIP;
    if (n >= 14 && p[0] == 0x80 && p[1] >= 2 && p[1] <= 5 && p[2] == 0x8a && p[3] == 10 && !memcmp(p + 4, magic, 10))
        return HB_TB_LEGACY;
    return HB_TB_NOT_TORCH;
}

/* ---- the tree ---- */
static const char *global_of(const cJSON *v) {
    const char *k = hb_pickle_node_kind(v);
    if (!k || strcmp(k, "global")) return NULL;
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(v, "global");
    return cJSON_IsString(g) ? g->valuestring : NULL;
}

/* v is callable(*args) for the global named callable: *args receives the argument array. */
static int is_call(const cJSON *v, const char *callable, const cJSON **args) {
    const char *k = hb_pickle_node_kind(v);
    if (!k || strcmp(k, "reduce")) return 0;
    const char *g = global_of(cJSON_GetObjectItemCaseSensitive(v, "reduce"));
    if (!g || strcmp(g, callable)) return 0;
    *args = cJSON_GetObjectItemCaseSensitive(v, "args");
    return cJSON_IsArray(*args);
}

static const char *describe(const cJSON *v, char *buf, size_t n) {
    const char *k = hb_pickle_node_kind(v);
    if (!k)
        return cJSON_IsObject(v) ? "a dict" : cJSON_IsArray(v) ? "a list or tuple" : cJSON_IsString(v) ? "a string"
               : cJSON_IsNumber(v) ? "a number" : cJSON_IsBool(v) ? "a bool" : "None";
    if (!strcmp(k, "persid")) return "a persistent id";
    const char *g = !strcmp(k, "global") ? global_of(v) : global_of(cJSON_GetObjectItemCaseSensitive(v, k));
    snprintf(buf, n, "%s %s", !strcmp(k, "global") ? "the global" : !strcmp(k, "reduce") ? "a call of" : "an object of",
             g ? g : "an expression");
    return buf;
}

/* Allowed: the names above, and any torch.<Name>Storage class (refused later, with its name, if its dtype is not one
 * hb reads: complex, quantized, ...). */
static int allowed(const char *g) {
    size_t n = strlen(g);
    if (n > 13 && !strncmp(g, "torch.", 6) && !strcmp(g + n - 7, "Storage") && !strchr(g + 6, '.')) return 1;
    for (size_t i = 0; i < NSTORAGES; i++)
        if (!strcmp(g, STORAGES[i].name)) return 1;
    for (size_t i = 0; i < NOTHER; i++)
        if (!strcmp(g, OTHER_GLOBALS[i])) return 1;
    return 0;
}

/* Every global anywhere in the tree must be on the allow-list (the tree is at most 1000 deep: pickle.h). */
static int check_globals(tb *b, const cJSON *v) {
    const char *g = global_of(v);
    if (g && !allowed(g))
        return hb_err_set(b->err, HB_EFORMAT, b->path, HB_NOPOS, HB_NOPOS,
                          "%sdata.pkl refers to the Python global '%s': refused (nothing was executed; a checkpoint "
                          "may only use torch tensors, storages and dtypes and collections.OrderedDict)",
                          b->top, g);
    for (const cJSON *c = v->child; c; c = c->next) {
        int rc = check_globals(b, c);
        if (rc) return rc;
    }
    return 0;
}

static int get_int(const cJSON *v, int64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (d < 0 || d > MAX_INT || d != floor(d)) return 0;
    *out = (int64_t)d;
    return 1;
}

/* A dict or an OrderedDict (whatever its items: tensor metadata is not read). */
static int is_dict(const cJSON *v) {
    const cJSON *args;
    if (cJSON_IsObject(v) && !hb_pickle_node_kind(v)) return 1;
    return is_call(v, "collections.OrderedDict", &args) && !cJSON_GetObjectItemCaseSensitive(v, "list");
}

/* Empty backward hooks: OrderedDict() without items, or {}. */
static int no_hooks(const cJSON *v) {
    const cJSON *args;
    if (cJSON_IsObject(v) && !hb_pickle_node_kind(v)) return v->child == NULL;
    if (!is_call(v, "collections.OrderedDict", &args) || cJSON_GetArraySize(args) != 0) return 0;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(v, "items");
    return !cJSON_GetObjectItemCaseSensitive(v, "list") && (!items || !items->child);
}

static int tbad(tb *b, const char *name, const char *fmt, const char *detail) {
    return hb_err_set(b->err, HB_EFORMAT, b->path, HB_NOPOS, HB_NOPOS, "tensor '%s': %s%s", name, fmt, detail);
}

/* ---- storages and views ---- */

/* The persistent id ("storage", <class>, key, location, numel): the zip entry of the storage, checked. */
static int storage(tb *b, const char *name, const cJSON *pidnode, long *entry, hb_st_dtype *dtype, int64_t *numel) {
    const char *k = hb_pickle_node_kind(pidnode);
    const cJSON *pid = k && !strcmp(k, "persid") ? cJSON_GetObjectItemCaseSensitive(pidnode, "persid") : NULL;
    const cJSON *tag = cJSON_GetArrayItem(pid, 0), *cls = cJSON_GetArrayItem(pid, 1), *key = cJSON_GetArrayItem(pid, 2);
    const cJSON *loc = cJSON_GetArrayItem(pid, 3), *num = cJSON_GetArrayItem(pid, 4);
    if (!cJSON_IsArray(pid) || cJSON_GetArraySize(pid) != 5 || !cJSON_IsString(tag) ||
        strcmp(tag->valuestring, "storage") || !cJSON_IsString(key) || !cJSON_IsString(loc) || !get_int(num, numel))
        return tbad(b, name, "its storage is not a persistent id ('storage', class, key, location, numel)", "");
    const char *g = global_of(cls);
    int found = 0;
    for (size_t i = 0; g && i < NSTORAGES && !found; i++)
        if (!strcmp(g, STORAGES[i].name)) *dtype = STORAGES[i].dtype, found = 1;
    if (!found)
        return hb_err_set(b->err, HB_EUNSUPPORTED, b->path, HB_NOPOS, HB_NOPOS,
                          "tensor '%s': storage class %s is not supported (hb reads torch.{Float, Half, BFloat16, "
                          "Double, Long, Int, Short, Char, Byte, Bool}Storage)", name, g ? g : "(not a global)");
    hb_buf en = {0};
    hb_buf_printf(&en, "%sdata/%s", b->top, key->valuestring);
    *entry = hb_zip_find(&b->z, hb_buf_cstr(&en));
    int rc = 0;
    const hb_zip_entry *e = *entry >= 0 ? &b->z.e[*entry] : NULL;
    uint64_t es = hb_st_dtype_size(*dtype);
    slot *s = e ? &b->slots[*entry] : NULL;
    if (!e)
        rc = hb_err_set(b->err, HB_EFORMAT, b->path, HB_NOPOS, HB_NOPOS,
                        "tensor '%s': its storage '%s' is not in the archive (no entry %s)", name, key->valuestring,
                        hb_buf_cstr(&en));
    else if (e->method != 0 || (e->flags & 1) || e->csize != e->size)
        rc = hb_err_set(b->err, HB_EUNSUPPORTED, b->path, HB_NOPOS, (long long)e->data,
                        "zip entry %s is %s (method %d): torch.save stores entries uncompressed, hb reads them in "
                        "place; re-save the checkpoint with torch.save", e->name,
                        (e->flags & 1) ? "encrypted" : "compressed", e->method);
    else if (s->used && (s->dtype != *dtype || s->numel != *numel))
        rc = hb_err_set(b->err, HB_EFORMAT, b->path, HB_NOPOS, HB_NOPOS,
                        "tensor '%s': storage '%s' is used as %lld %s elements and elsewhere as %lld %s elements", name,
                        key->valuestring, (long long)*numel, hb_st_dtype_name(*dtype), (long long)s->numel,
                        hb_st_dtype_name(s->dtype));
    else if ((uint64_t)*numel * es != e->size)
        rc = hb_err_set(b->err, HB_EFORMAT, b->path, HB_NOPOS, (long long)e->data,
                        "tensor '%s': storage '%s' should hold %lld %s elements (%llu bytes), its entry %s has %llu "
                        "bytes (file truncated or corrupt?)", name, key->valuestring, (long long)*numel,
                        hb_st_dtype_name(*dtype), (unsigned long long)(*numel * es), e->name,
                        (unsigned long long)e->size);
    if (!rc) {
        s->used = 1;
        s->dtype = *dtype;
        s->numel = *numel;
    }
    hb_buf_free(&en);
    return rc;
}

/* Copy a strided view into a new row-major buffer. */
static void *gather(const uint8_t *base, int ndim, const int64_t *size, const int64_t *stride, int64_t numel,
                    size_t es) {
    uint8_t *dst = hb_xmalloc((size_t)numel * es);
    int64_t idx[HB_ST_MAXDIM] = {0}, off = 0;
    for (int64_t i = 0; i < numel; i++) {
        memcpy(dst + (size_t)i * es, base + (size_t)off * es, es);
        for (int d = ndim - 1; d >= 0; d--) {
            if (++idx[d] < size[d]) {
                off += stride[d];
                break;
            }
            off -= stride[d] * (size[d] - 1);
            idx[d] = 0;
        }
    }
    return dst;
}

/* One state-dict value: a tensor (or a parameter wrapping one) over a storage. */
static int tensor(tb *b, const char *name, const cJSON *v) {
    const cJSON *args;
    char what[200];
    if (is_call(v, "torch._utils._rebuild_parameter", &args)) {
        if (cJSON_GetArraySize(args) != 3 || !cJSON_IsBool(cJSON_GetArrayItem(args, 1)) ||
            !no_hooks(cJSON_GetArrayItem(args, 2)))
            return tbad(b, name, "a parameter that is not (tensor, requires_grad, {})", "");
        v = cJSON_GetArrayItem(args, 0);
    }
    if (!is_call(v, "torch._utils._rebuild_tensor_v2", &args))
        return tbad(b, name, "not a tensor but ", describe(v, what, sizeof what));
    int na = cJSON_GetArraySize(args);
    const cJSON *a_off = cJSON_GetArrayItem(args, 1), *a_size = cJSON_GetArrayItem(args, 2);
    const cJSON *a_stride = cJSON_GetArrayItem(args, 3), *a_meta = cJSON_GetArrayItem(args, 6);
    int64_t offset;
    if ((na != 6 && na != 7) || !get_int(a_off, &offset) || !cJSON_IsArray(a_size) || !cJSON_IsArray(a_stride) ||
        !cJSON_IsBool(cJSON_GetArrayItem(args, 4)) || (a_meta && !is_dict(a_meta)))
        return tbad(b, name, "_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, requires_grad, "
                    "hooks[, metadata])", "");
    if (!no_hooks(cJSON_GetArrayItem(args, 5))) return tbad(b, name, "it has backward hooks (not supported)", "");
    hb_st_tensor t;
    memset(&t, 0, sizeof t);
    t.name = name;
    t.file = b->file;
    t.ndim = cJSON_GetArraySize(a_size);
    if (t.ndim > HB_ST_MAXDIM || cJSON_GetArraySize(a_stride) != t.ndim)
        return tbad(b, name, "size and stride have different lengths or more than 8 dimensions", "");
    int64_t stride[HB_ST_MAXDIM];
    t.numel = 1;
    for (int d = 0; d < t.ndim; d++) {
        if (!get_int(cJSON_GetArrayItem(a_size, d), &t.shape[d]) ||
            !get_int(cJSON_GetArrayItem(a_stride, d), &stride[d]))
            return tbad(b, name, "a size or stride that is not a non-negative integer", "");
        if (t.shape[d] && t.numel > INT64_MAX / 16 / t.shape[d]) return tbad(b, name, "its size overflows", "");
        t.numel *= t.shape[d];
    }
    long entry = -1;
    int64_t snumel = 0;
    int rc = storage(b, name, cJSON_GetArrayItem(args, 0), &entry, &t.dtype, &snumel);
    if (rc) return rc;
    size_t es = hb_st_dtype_size(t.dtype);
    const uint8_t *base = b->map + b->z.e[entry].data;
    /* the last element, offset + sum (size - 1) * stride, must lie inside the storage */
    int64_t last = offset;
    int inside = offset <= snumel;
    for (int d = 0; d < t.ndim && inside && t.numel; d++) {
        if (stride[d] && t.shape[d] - 1 > (snumel - last) / stride[d]) inside = 0;
        else last += (t.shape[d] - 1) * stride[d];
    }
    if (t.numel && last >= snumel) inside = 0;
    if (!inside) {
        char s1[160], s2[160];
        hb_st_shape_str(t.ndim, t.shape, s1, sizeof s1);
        hb_st_shape_str(t.ndim, stride, s2, sizeof s2);
        return hb_err_set(b->err, HB_EFORMAT, b->path, HB_NOPOS, HB_NOPOS,
                          "tensor '%s': size %s, stride %s at offset %lld reach past its storage of %lld elements",
                          name, s1, s2, (long long)offset, (long long)snumel);
    }
    int contiguous = 1;
    int64_t expect = 1;
    for (int d = t.ndim - 1; d >= 0 && t.numel; d--) {
        if (t.shape[d] != 1 && stride[d] != expect) contiguous = 0;
        expect *= t.shape[d];
    }
    const uint8_t *p = base + (size_t)offset * es;
    if (!t.numel || (contiguous && (uintptr_t)p % es == 0)) {
        t.data = p;
    } else {
        if (t.numel > snumel)
            return tbad(b, name, "a strided view larger than its storage (an expanded tensor): not supported; save "
                        "tensor.contiguous() instead", "");
        if ((uint64_t)t.numel * es > 4 * (uint64_t)b->size - b->copied)
            return tbad(b, name, "the strided views of this file would copy more than 4 times its size: not "
                        "supported; save contiguous tensors", "");
        b->copied += (uint64_t)t.numel * es;
        void *c = gather(p, t.ndim, t.shape, stride, t.numel, es);
        b->keep->copies = hb_xrealloc(b->keep->copies, (b->keep->ncopies + 1) * sizeof *b->keep->copies);
        b->keep->copies[b->keep->ncopies++] = c;
        t.data = c;
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->t = hb_xrealloc(b->t, b->cap * sizeof *b->t);
    }
    b->t[b->n++] = t;
    return 0;
}

/* ---- the archive ---- */

/* <top>/data.pkl: the only entry named data.pkl one folder deep. */
static int find_pickle(tb *b, long *at) {
    *at = -1;
    for (size_t i = 0; i < b->z.n; i++) {
        const char *nm = b->z.e[i].name, *sl = strchr(nm, '/');
        if (!sl || sl == nm || strcmp(sl, "/data.pkl")) continue;
        if (*at >= 0)
            return hb_err_set(b->err, HB_EFORMAT, b->path, HB_NOPOS, HB_NOPOS,
                              "two pickles in one archive (%s and %s): not a torch.save checkpoint",
                              b->z.e[*at].name, nm);
        *at = (long)i;
    }
    if (*at < 0)
        return hb_err_set(b->err, HB_EFORMAT, b->path, HB_NOPOS, HB_NOPOS,
                          "a zip without <folder>/data.pkl: not a torch.save checkpoint");
    const hb_zip_entry *e = &b->z.e[*at];
    b->top = hb_xmalloc(strlen(e->name) - strlen("data.pkl") + 1);
    memcpy(b->top, e->name, strlen(e->name) - strlen("data.pkl"));
    b->top[strlen(e->name) - strlen("data.pkl")] = 0;
    if (e->method != 0 || (e->flags & 1) || e->csize != e->size)
        return hb_err_set(b->err, HB_EUNSUPPORTED, b->path, HB_NOPOS, (long long)e->data,
                          "zip entry %s is compressed or encrypted (method %d): torch.save stores entries "
                          "uncompressed; re-save the checkpoint with torch.save", e->name, e->method);
    hb_buf bo = {0};
    hb_buf_printf(&bo, "%sbyteorder", b->top);
    long o = hb_zip_find(&b->z, hb_buf_cstr(&bo));
    hb_buf_free(&bo);
    if (o >= 0) {
        const hb_zip_entry *x = &b->z.e[o];
        if (x->method != 0 || x->size != 6 || memcmp(b->map + x->data, "little", 6))
            return hb_err_set(b->err, HB_EUNSUPPORTED, b->path, HB_NOPOS, (long long)x->data,
                              "%s is not \"little\": a big-endian checkpoint is not supported", x->name);
    }
    return 0;
}

static int read_all(tb *b) {
    int rc = hb_zip_index(b->path, b->map, b->size, &b->z, b->err);
    if (rc) return rc;
    b->slots = hb_xcalloc(b->z.n ? b->z.n : 1, sizeof *b->slots);
    long pk;
    if ((rc = find_pickle(b, &pk))) return rc;
    const hb_zip_entry *e = &b->z.e[pk];
    hb_buf nm = {0};
    hb_buf_printf(&nm, "%s:%s", b->path, e->name);
    rc = hb_pickle_parse_objects(b->map + e->data, (size_t)e->size, hb_buf_cstr(&nm), &b->keep->tree, b->err);
    hb_buf_free(&nm);
    if (rc) return rc;
    const cJSON *root = b->keep->tree, *args, *items = NULL;
    if ((rc = check_globals(b, root))) return rc;
    if (cJSON_IsObject(root) && !hb_pickle_node_kind(root)) {
        items = root;
    } else if (is_call(root, "collections.OrderedDict", &args) && cJSON_GetArraySize(args) == 0 &&
               !cJSON_GetObjectItemCaseSensitive(root, "list")) {
        items = cJSON_GetObjectItemCaseSensitive(root, "items"); /* absent: an empty OrderedDict */
    } else {
        char what[200];
        return hb_err_set(b->err, HB_EFORMAT, b->path, HB_NOPOS, HB_NOPOS,
                          "%sdata.pkl holds %s, not a state dict {name: tensor}", b->top,
                          describe(root, what, sizeof what));
    }
    for (const cJSON *it = items ? items->child : NULL; it && !rc; it = it->next) rc = tensor(b, it->string, it);
    return rc;
}

int hb_tb_read(const char *path, const uint8_t *map, size_t size, int file, hb_tb_file **keep, hb_st_tensor **t,
               size_t *n, hb_err *err) {
    tb b = {.path = path, .map = map, .size = size, .file = file, .err = err};
    b.keep = hb_xcalloc(1, sizeof *b.keep);
    int rc = read_all(&b);
    hb_zip_free(&b.z);
    free(b.slots);
    free(b.top);
    if (rc) {
        hb_tb_free(b.keep);
        free(b.t);
        *keep = NULL, *t = NULL, *n = 0;
        return rc;
    }
    *keep = b.keep, *t = b.t, *n = b.n;
    return 0;
}

void hb_tb_free(hb_tb_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->ncopies; i++) free(f->copies[i]);
    free(f->copies);
    cJSON_Delete(f->tree);
    free(f);
}

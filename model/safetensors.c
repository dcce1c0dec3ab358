/* model/safetensors.c — the safetensors reader (mmap, strict validation, sharded index sets) and dtype conversion.
 * Files that start with a zip signature are torch.save checkpoints, read by torchbin.c into the same tensor set.
 * The writer is in safetensors_write.c.
 *
 * Dependencies:
 *   model/safetensors.h  the API
 *   model/torchbin.h     hb_tb_sniff, hb_tb_read (pytorch_model*.bin)
 *   core/core.h          hb_err, hb_file_read_all, hb_path_join, hb_xmalloc
 *   <cjson/cJSON.h>      header and index JSON
 *   <sys/mman.h>, <sys/stat.h>, <fcntl.h>, <dirent.h>  mmap, file sizes, directory listing
 */
#include "model/safetensors.h"
#include "model/torchbin.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HEADER (100u << 20)

typedef struct {
    char *path;
    void *map;
    size_t size;
    cJSON *meta; /* the __metadata__ object (owned by header) */
    cJSON *header;
    hb_tb_file *tb; /* a torch.save checkpoint: names and copies */
} st_file;

struct hb_st {
    char *path;
    st_file *files;
    int nfiles;
    hb_st_tensor *t;
    size_t n, cap;
};

static const char *DT_NAMES[HB_ST_NDTYPES] = {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"};
static const size_t DT_SIZES[HB_ST_NDTYPES] = {4, 2, 2, 8, 8, 4, 2, 1, 1, 1};

const char *hb_st_dtype_name(hb_st_dtype d) { return d < HB_ST_NDTYPES ? DT_NAMES[d] : "?"; }
size_t hb_st_dtype_size(hb_st_dtype d) { return d < HB_ST_NDTYPES ? DT_SIZES[d] : 0; }

const char *hb_st_shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "[");
    for (int i = 0; i < ndim; i++)
        o += (size_t)snprintf(buf + o, o < n ? n - o : 0, "%s%lld", i ? ", " : "", (long long)shape[i]);
    snprintf(buf + o, o < n ? n - o : 0, "]");
    return buf;
}

/* ---- scalar conversions ---- */
float hb_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t hb_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1);                                          /* round to nearest even */
    return (uint16_t)(u >> 16);
}

float hb_f16_to_f32(uint16_t h) {
    uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    if (e == 0) {
        if (m == 0) {
            u = s;
        } else { /* subnormal: normalise */
            e = 127 - 15 + 1;
            while (!(m & 0x400)) {
                m <<= 1;
                e--;
            }
            u = s | (e << 23) | ((m & 0x3ff) << 13);
        }
    } else if (e == 31) {
        u = s | 0x7f800000u | (m << 13);
    } else {
        u = s | ((e + 127 - 15) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t hb_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t s = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return s | 0x7e00;               /* NaN */
    if (a >= 0x477ff000u) return s | 0x7c00;              /* rounds to inf (>= 65520) */
    if (a < 0x38800000u) {                                /* subnormal or zero in f16 */
        float x = fabsf(f) * 16777216.0f;                 /* 2^24: subnormal unit */
        return s | (uint16_t)nearbyintf(x);
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1); /* round to nearest even at bit 13 */
    return s | (uint16_t)((r - 0x38000000u) >> 13);
}

/* ---- set management ---- */
static int cmp_tensor(const void *a, const void *b) {
    return strcmp(((const hb_st_tensor *)a)->name, ((const hb_st_tensor *)b)->name);
}

static void add_tensor(hb_st *st, const hb_st_tensor *t) {
    if (st->n == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 64;
        st->t = hb_xrealloc(st->t, st->cap * sizeof *st->t);
    }
    st->t[st->n++] = *t;
}

static int parse_dtype(const char *s, hb_st_dtype *d) {
    for (int i = 0; i < HB_ST_NDTYPES; i++)
        if (!strcmp(s, DT_NAMES[i])) {
            *d = (hb_st_dtype)i;
            return 1;
        }
    return 0;
}

typedef struct {
    uint64_t begin, end;
    const char *name;
} span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : x->end < y->end ? -1 : x->end > y->end;
}

/* Map one file and validate its header; `only` (may be NULL) restricts which tensors are added to the set (a
 * sharded set adds just the names its weight_map assigns to this file). */
static int open_file(hb_st *st, const char *path, hb_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hb_err_errno(err, errno == ENOENT ? HB_ENOTFOUND : HB_EIO, path, "cannot open");
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return hb_err_errno(err, HB_EIO, path, "cannot stat");
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, 0, "file of %zu bytes is too short for a safetensors header",
                          size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return hb_err_errno(err, HB_EIO, path, "cannot mmap");
    st->files = hb_xrealloc(st->files, (size_t)(st->nfiles + 1) * sizeof *st->files);
    st_file *f = &st->files[st->nfiles++];
    memset(f, 0, sizeof *f);
    f->path = hb_xstrdup(path);
    f->map = map;
    f->size = size;
    int fi = st->nfiles - 1;

    const uint8_t *p = map;
    hb_tb_kind kind = hb_tb_sniff(p, size);
    if (kind == HB_TB_LEGACY)
        return hb_err_set(err, HB_EUNSUPPORTED, path, HB_NOPOS, 0,
                          "a torch.save file in the legacy format of torch < 1.6 (a bare pickle stream, not a zip): "
                          "hb reads the zip format; re-save it with torch >= 1.6 (torch.save(torch.load(f)), the "
                          "default since 1.6) or convert it to safetensors");
    if (kind == HB_TB_ZIP) {
        hb_st_tensor *t;
        size_t n;
        int rc = hb_tb_read(path, p, size, fi, &f->tb, &t, &n, err);
        for (size_t i = 0; i < n; i++) add_tensor(st, &t[i]);
        free(t);
        return rc;
    }
    uint64_t hlen = hb_le64(p);
    if (hlen > MAX_HEADER || hlen > size - 8)
        return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, 0,
                          "header length %llu exceeds the file (%zu bytes) or the 100 MB limit: neither a safetensors "
                          "file nor a PyTorch zip checkpoint", (unsigned long long)hlen, size);
    const char *end = NULL;
    f->header = cJSON_ParseWithLengthOpts((const char *)p + 8, (size_t)hlen, &end, 0);
    if (!f->header || !cJSON_IsObject(f->header))
        return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, end ? 8 + (long long)(end - (const char *)p - 8) : 8,
                          "header is not a JSON object");
    uint64_t data_size = size - 8 - hlen;
    size_t first = st->n, count = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, f->header) {
        if (!strcmp(it->string, "__metadata__")) {
            if (!cJSON_IsObject(it))
                return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, 8, "__metadata__ is not an object");
            const cJSON *m;
            cJSON_ArrayForEach(m, it) if (!cJSON_IsString(m)) return hb_err_set(
                err, HB_EFORMAT, path, HB_NOPOS, 8, "__metadata__.%s is not a string", m->string);
            f->meta = (cJSON *)it;
            continue;
        }
        hb_st_tensor t;
        memset(&t, 0, sizeof t);
        t.name = it->string;
        t.file = fi;
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsObject(it) || !cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off) ||
            cJSON_GetArraySize(off) != 2)
            return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, 8,
                              "tensor '%s': expected {\"dtype\": str, \"shape\": [..], \"data_offsets\": [begin, end]}",
                              it->string);
        if (!parse_dtype(dt->valuestring, &t.dtype))
            return hb_err_set(err, HB_EUNSUPPORTED, path, HB_NOPOS, 8, "tensor '%s': unsupported dtype %s", it->string,
                              dt->valuestring);
        t.ndim = cJSON_GetArraySize(sh);
        if (t.ndim > HB_ST_MAXDIM)
            return hb_err_set(err, HB_EUNSUPPORTED, path, HB_NOPOS, 8, "tensor '%s': %d dimensions (at most %d)",
                              it->string, t.ndim, HB_ST_MAXDIM);
        t.numel = 1;
        for (int d = 0; d < t.ndim; d++) {
            const cJSON *x = cJSON_GetArrayItem(sh, d);
            if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble != floor(x->valuedouble) ||
                x->valuedouble > 9.0e15)
                return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, 8, "tensor '%s': shape[%d] is not a size",
                                  it->string, d);
            t.shape[d] = (int64_t)x->valuedouble;
            if (t.shape[d] && t.numel > INT64_MAX / 16 / t.shape[d])
                return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, 8, "tensor '%s': shape overflows", it->string);
            t.numel *= t.shape[d];
        }
        double b = cJSON_GetArrayItem(off, 0)->valuedouble, e = cJSON_GetArrayItem(off, 1)->valuedouble;
        if (!cJSON_IsNumber(cJSON_GetArrayItem(off, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(off, 1)) || b < 0 ||
            e < b || b != floor(b) || e != floor(e) || e > (double)data_size)
            return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, 8,
                              "tensor '%s': data_offsets [%.0f, %.0f] outside the %llu data bytes", it->string, b, e,
                              (unsigned long long)data_size);
        uint64_t nbytes = (uint64_t)e - (uint64_t)b;
        if (nbytes != (uint64_t)t.numel * DT_SIZES[t.dtype])
            return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, 8 + (long long)hlen + (long long)b,
                              "tensor '%s': %llu data bytes for %lld elements of %s", it->string,
                              (unsigned long long)nbytes, (long long)t.numel, DT_NAMES[t.dtype]);
        t.data = p + 8 + hlen + (uint64_t)b;
        add_tensor(st, &t);
        count++;
    }
    /* tiling: sorted by offset the tensors must cover [0, data_size) exactly */
    span *sp = hb_xmalloc((count + 1) * sizeof *sp);
    for (size_t i = 0; i < count; i++) {
        const hb_st_tensor *t = &st->t[first + i];
        sp[i].begin = (uint64_t)((const uint8_t *)t->data - p - 8 - hlen);
        sp[i].end = sp[i].begin + (uint64_t)t->numel * DT_SIZES[t->dtype];
        sp[i].name = t->name;
    }
    qsort(sp, count, sizeof *sp, cmp_span);
    uint64_t pos = 0;
    int rc = 0;
    for (size_t i = 0; i < count && !rc; i++) {
        if (sp[i].begin != pos)
            rc = hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, 8 + (long long)hlen + (long long)sp[i].begin,
                            "tensor '%s' starts at data byte %llu, expected %llu (%s)", sp[i].name,
                            (unsigned long long)sp[i].begin, (unsigned long long)pos,
                            sp[i].begin < pos ? "overlap" : "gap");
        pos = sp[i].end;
    }
    free(sp);
    if (!rc && pos != data_size)
        rc = hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, 8 + (long long)hlen + (long long)pos,
                        "%llu data bytes after the last tensor (file truncated or padded?)",
                        (unsigned long long)(data_size - pos));
    return rc;
}

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static char *dir_of(const char *path) {
    const char *sl = strrchr(path, '/');
    if (!sl) return hb_xstrdup(".");
    if (sl == path) return hb_xstrdup("/");
    char *d = hb_xmalloc((size_t)(sl - path) + 1);
    memcpy(d, path, (size_t)(sl - path));
    d[sl - path] = 0;
    return d;
}

/* A sharded set: weight_map {name: file} -> open each distinct file, keep only the names the map assigns. */
static int open_index(hb_st *st, const char *path, hb_err *err) {
    uint8_t *data;
    size_t len;
    int rc = hb_file_read_all(path, &data, &len, err);
    if (rc) return rc;
    cJSON *j = cJSON_ParseWithLength((const char *)data, len);
    free(data);
    const cJSON *wm = j ? cJSON_GetObjectItemCaseSensitive(j, "weight_map") : NULL;
    if (!cJSON_IsObject(wm)) {
        cJSON_Delete(j);
        return hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, HB_NOPOS,
                          "not a safetensors or pytorch_model.bin index: no weight_map object");
    }
    char *dir = dir_of(path);
    /* distinct shard names in order of first appearance */
    const cJSON *it;
    int nshards = 0;
    const char **shards = NULL;
    cJSON_ArrayForEach(it, wm) {
        if (!cJSON_IsString(it)) {
            rc = hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, HB_NOPOS, "weight_map.%s is not a file name", it->string);
            break;
        }
        if (strchr(it->valuestring, '/') || !strcmp(it->valuestring, "..")) {
            rc = hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, HB_NOPOS,
                            "weight_map.%s: shard '%s' must be a file name in the index's directory", it->string,
                            it->valuestring);
            break;
        }
        int seen = 0;
        for (int i = 0; i < nshards && !seen; i++) seen = !strcmp(shards[i], it->valuestring);
        if (!seen) {
            shards = hb_xrealloc(shards, (size_t)(nshards + 1) * sizeof *shards);
            shards[nshards++] = it->valuestring;
        }
    }
    for (int s = 0; s < nshards && !rc; s++) {
        char *fp = hb_path_join(dir, shards[s]);
        size_t before = st->n;
        rc = open_file(st, fp, err);
        free(fp);
        if (rc) break;
        /* drop the tensors the index does not assign to this shard; the index must be exact about the others */
        size_t w = before;
        for (size_t i = before; i < st->n; i++) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(wm, st->t[i].name);
            if (m && cJSON_IsString(m) && !strcmp(m->valuestring, shards[s])) st->t[w++] = st->t[i];
        }
        st->n = w;
    }
    if (!rc) { /* every mapped name must have been found in its shard */
        cJSON_ArrayForEach(it, wm) {
            int found = 0;
            for (size_t i = 0; i < st->n && !found; i++) found = !strcmp(st->t[i].name, it->string);
            if (!found) {
                rc = hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, HB_NOPOS,
                                "weight_map lists '%s' in %s, but that file has no such tensor", it->string,
                                it->valuestring);
                break;
            }
        }
    }
    free(shards);
    free(dir);
    cJSON_Delete(j);
    return rc;
}

/* Weights in a directory, safetensors before PyTorch (as transformers prefers them): the preferred index, the preferred
 * file, else the only index, else the only file of that kind (training_args.bin is not weights). */
static const struct {
    const char *index, *file, *index_suffix, *suffix, *what;
} DIR_KINDS[2] = {
    {"model.safetensors.index.json", "model.safetensors", ".safetensors.index.json", ".safetensors", "safetensors"},
    {"pytorch_model.bin.index.json", "pytorch_model.bin", ".bin.index.json", ".bin", "PyTorch .bin"},
};

static int resolve_dir(const char *dir, char **out, hb_err *err) {
    for (int k = 0; k < 2; k++) {
        const char *pref[2] = {DIR_KINDS[k].index, DIR_KINDS[k].file};
        for (int i = 0; i < 2; i++) {
            char *p = hb_path_join(dir, pref[i]);
            if (hb_path_exists(p)) {
                *out = p;
                return 0;
            }
            free(p);
        }
        DIR *d = opendir(dir);
        if (!d) return hb_err_errno(err, HB_EIO, dir, "cannot list directory");
        char *idx = NULL, *one = NULL;
        int nidx = 0, none = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (has_suffix(e->d_name, DIR_KINDS[k].index_suffix)) {
                nidx++;
                free(idx);
                idx = hb_path_join(dir, e->d_name);
            } else if (has_suffix(e->d_name, DIR_KINDS[k].suffix) && strcmp(e->d_name, "training_args.bin")) {
                none++;
                free(one);
                one = hb_path_join(dir, e->d_name);
            }
        }
        closedir(d);
        if (nidx == 1) {
            *out = idx;
            free(one);
            return 0;
        }
        if (nidx == 0 && none == 1) {
            *out = one;
            return 0;
        }
        free(idx);
        free(one);
        if (nidx + none)
            return hb_err_set(err, HB_EINVAL, dir, HB_NOPOS, HB_NOPOS, "%d index files and %d %s files: name the one "
                              "to use", nidx, none, DIR_KINDS[k].what);
    }
    return hb_err_set(err, HB_ENOTFOUND, dir, HB_NOPOS, HB_NOPOS,
                      "no *.safetensors or pytorch_model*.bin weights in the directory");
}

int hb_st_open(const char *path, hb_st **out, hb_err *err) {
    *out = NULL;
    char *target = NULL;
    int rc = 0;
    if (hb_path_is_dir(path)) {
        if ((rc = resolve_dir(path, &target, err))) return rc;
    } else {
        target = hb_xstrdup(path);
    }
    hb_st *st = hb_xcalloc(1, sizeof *st);
    st->path = hb_xstrdup(path);
    rc = has_suffix(target, ".json") ? open_index(st, target, err) : open_file(st, target, err);
    free(target);
    if (!rc && st->n) {
        qsort(st->t, st->n, sizeof *st->t, cmp_tensor);
        for (size_t i = 1; i < st->n && !rc; i++)
            if (!strcmp(st->t[i].name, st->t[i - 1].name))
                rc = hb_err_set(err, HB_EFORMAT, st->files[st->t[i].file].path, HB_NOPOS, HB_NOPOS,
                                "tensor '%s' appears twice (also in %s)", st->t[i].name,
                                st->files[st->t[i - 1].file].path);
    }
    if (rc) {
        hb_st_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void hb_st_close(hb_st *st) {
    if (!st) return;
    for (int i = 0; i < st->nfiles; i++) {
        munmap(st->files[i].map, st->files[i].size);
        cJSON_Delete(st->files[i].header);
        hb_tb_free(st->files[i].tb);
        free(st->files[i].path);
    }
    free(st->files);
    free(st->t);
    free(st->path);
    free(st);
}

size_t hb_st_count(const hb_st *st) { return st->n; }
const hb_st_tensor *hb_st_at(const hb_st *st, size_t i) { return i < st->n ? &st->t[i] : NULL; }
const char *hb_st_file(const hb_st *st, int file) { return file >= 0 && file < st->nfiles ? st->files[file].path : ""; }
const char *hb_st_path(const hb_st *st) { return st->path; }

const hb_st_tensor *hb_st_find(const hb_st *st, const char *name) {
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(st->t[mid].name, name);
        if (!c) return &st->t[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *hb_st_meta(const hb_st *st, const char *key) {
    if (!st->nfiles || !st->files[0].meta) return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(st->files[0].meta, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- conversion ---- */
/* bf16 -> f32 is the bits shifted up. Written so that the compiler vectorises it, and built for AVX2 as well as the
 * baseline where the compiler can dispatch at load time (checkpoints are gigabytes; this runs at memory speed). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
__attribute__((target_clones("avx2", "default")))
#endif
static void bf16_to_f32(const uint8_t *p, float *dst, int64_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        uint32_t u = (uint32_t)h << 16;
        memcpy(dst + i, &u, 4);
    }
#else
    for (int64_t i = 0; i < n; i++) dst[i] = hb_bf16_to_f32(hb_le16(p + 2 * i));
#endif
}

int hb_st_read_f32(const hb_st *st, const hb_st_tensor *t, float *dst, int64_t n, hb_err *err) {
    if (n != t->numel)
        return hb_err_set(err, HB_EINVAL, hb_st_file(st, t->file), HB_NOPOS, HB_NOPOS,
                          "tensor '%s' has %lld elements, %lld expected", t->name, (long long)t->numel, (long long)n);
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case HB_ST_F32: memcpy(dst, p, (size_t)n * 4); break;
    case HB_ST_BF16: bf16_to_f32(p, dst, n); break;
    case HB_ST_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = hb_f16_to_f32(hb_le16(p + 2 * i));
        break;
    case HB_ST_F64:
        for (int64_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, 8);
            dst[i] = (float)d;
        }
        break;
    default:
        return hb_err_set(err, HB_EFORMAT, hb_st_file(st, t->file), HB_NOPOS, HB_NOPOS,
                          "tensor '%s' is %s, a float tensor (F32, F16, BF16, F64) is expected", t->name,
                          DT_NAMES[t->dtype]);
    }
    return 0;
}

int hb_st_read_i32(const hb_st *st, const hb_st_tensor *t, int32_t *dst, int64_t n, hb_err *err) {
    if (n != t->numel)
        return hb_err_set(err, HB_EINVAL, hb_st_file(st, t->file), HB_NOPOS, HB_NOPOS,
                          "tensor '%s' has %lld elements, %lld expected", t->name, (long long)t->numel, (long long)n);
    const uint8_t *p = t->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t v;
        switch (t->dtype) {
        case HB_ST_I32: v = (int32_t)hb_le32(p + 4 * i); break;
        case HB_ST_I64: v = (int64_t)hb_le64(p + 8 * i); break;
        case HB_ST_I16: v = (int16_t)hb_le16(p + 2 * i); break;
        case HB_ST_I8: v = (int8_t)p[i]; break;
        case HB_ST_U8: v = p[i]; break;
        default:
            return hb_err_set(err, HB_EFORMAT, hb_st_file(st, t->file), HB_NOPOS, HB_NOPOS,
                              "tensor '%s' is %s, an integer tensor (I32, I64) is expected", t->name,
                              DT_NAMES[t->dtype]);
        }
        if (v < INT32_MIN || v > INT32_MAX)
            return hb_err_set(err, HB_ERANGE, hb_st_file(st, t->file), i, HB_NOPOS,
                              "tensor '%s': element %lld = %lld does not fit int32", t->name, (long long)i,
                              (long long)v);
        dst[i] = (int32_t)v;
    }
    return 0;
}

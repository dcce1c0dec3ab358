/* model/checkpoint.c — writing a Honeybee checkpoint: config.json (official HoneybeeConfig layout) plus the weights
 * as safetensors under the Honeybee names, one tensor at a time from the backend (docs/checkpoint-format.md).
 *
 * Dependencies:
 *   model/model_internal.h  hb_model, hb_param
 *   model/safetensors.h     the writer
 *   model/config.h          hb_config_save
 *   kernels/ops.h           hb_ops_download
 *   core/core.h             hb_mkdir_p, hb_path_join, hb_err
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model_internal.h"

typedef struct {
    hb_model *m;
    hb_st_dtype dtype;
    hb_progress *pg;
} save_ctx;

static int fill(void *ctx, const char *name, void *dst, size_t nbytes, hb_err *err) {
    save_ctx *c = ctx;
    const hb_param *p = hb_model_param(c->m, name);
    if (!p) return hb_err_set(err, HB_EINTERNAL, name, HB_NOPOS, HB_NOPOS, "no such parameter");
    hb_dtype dt = c->dtype == HB_ST_BF16 ? HB_BF16 : c->dtype == HB_ST_F16 ? HB_F16 : HB_F32;
    if ((size_t)p->numel * hb_dtype_host_size(dt) != nbytes)
        return hb_err_set(err, HB_EINTERNAL, name, HB_NOPOS, HB_NOPOS, "size mismatch while saving");
    int rc = hb_ops_download(c->m->ops, dst, dt, &p->w, 0, p->numel, err);
    hb_progress_add(c->pg, (uint64_t)p->numel);
    return rc;
}

/* Files listed by an existing index in dir (to remove the ones a new save no longer uses). */
static char **old_shards(const char *dir, int *n) {
    *n = 0;
    char *ip = hb_path_join(dir, "model.safetensors.index.json");
    cJSON *j = NULL;
    char **out = NULL;
    if (hb_path_exists(ip) && !hb_config_read_json(ip, &j, NULL)) {
        const cJSON *wm = cJSON_GetObjectItemCaseSensitive(j, "weight_map"), *it;
        cJSON_ArrayForEach(it, wm) {
            if (!cJSON_IsString(it) || strchr(it->valuestring, '/')) continue;
            int seen = 0;
            for (int i = 0; i < *n && !seen; i++) seen = !strcmp(out[i], it->valuestring);
            if (seen) continue;
            out = hb_xrealloc(out, (size_t)(*n + 1) * sizeof *out);
            out[(*n)++] = hb_xstrdup(it->valuestring);
        }
        cJSON_Delete(j);
    }
    free(ip);
    return out;
}

int hb_model_save(hb_model *m, const char *dir, hb_st_dtype dtype, uint64_t max_shard_bytes, hb_err *err) {
    if (dtype != HB_ST_F32 && dtype != HB_ST_BF16 && dtype != HB_ST_F16)
        return hb_err_set(err, HB_EINVAL, dir, HB_NOPOS, HB_NOPOS, "checkpoints are written as F32, BF16 or F16");
    int rc = hb_mkdir_p(dir, err);
    if (rc) return rc;
    int nold;
    char **old = old_shards(dir, &nold);
    hb_st_writer *w = hb_st_writer_new();
    hb_st_writer_meta(w, "format", "pt"); /* transformers refuses safetensors without it */
    save_ctx ctx = {m, dtype, NULL};
    uint64_t total = 0, bytes = 0;
    for (int i = 0; i < m->nparams && !rc; i++) {
        const hb_param *p = &m->params[i];
        rc = hb_st_writer_add_fill(w, p->name, dtype, p->ndim, p->shape, fill, &ctx, err);
        total += (uint64_t)p->numel;
    }
    bytes = total * hb_st_dtype_size(dtype);
    char *path = hb_path_join(dir, "model.safetensors");
    if (!rc) {
        ctx.pg = hb_progress_start("saving", total, "params");
        rc = hb_st_writer_save(w, path, max_shard_bytes, err);
        hb_progress_done(ctx.pg);
    }
    if (!rc) rc = hb_config_save(&m->cfg, dir, err);
    if (!rc) { /* remove what a previous save left and this one no longer uses */
        int sharded = max_shard_bytes && bytes > max_shard_bytes, ncur = 0;
        char **cur = sharded ? old_shards(dir, &ncur) : NULL; /* the index just written */
        if (sharded) {
            unlink(path);
        } else {
            char *ip = hb_path_join(dir, "model.safetensors.index.json");
            unlink(ip);
            free(ip);
        }
        for (int i = 0; i < nold; i++) {
            int keep = !sharded && !strcmp(old[i], "model.safetensors");
            for (int k = 0; k < ncur; k++) keep |= !strcmp(cur[k], old[i]);
            if (!keep) {
                char *fp = hb_path_join(dir, old[i]);
                unlink(fp);
                free(fp);
            }
        }
        for (int k = 0; k < ncur; k++) free(cur[k]);
        free(cur);
    }
    for (int i = 0; i < nold; i++) free(old[i]);
    free(old);
    free(path);
    hb_st_writer_free(w);
    return rc;
}

/* model/trainer_ckpt.c — training checkpoints (docs/training.md §Checkpoints): the model in the Honeybee naming
 * (hb_model_save: config.json + model.safetensors, loadable by `hb-train debug` and PyTorch), the AdamW moments
 * (optimizer.safetensors, full tensors by parameter name, so a checkpoint resumes at any micro-batch size or rank
 * count) and state.json (step, AdamW step, plan cursor, RNG, the files' sizes and checksums, the effective config).
 *
 * Atomicity: everything is written into checkpoints/.tmp-<name>.<pid>/, fsynced, then renamed to
 * checkpoints/<name>/ and the directory fsynced; `latest` is replaced atomically afterwards. A crash or a full disk
 * at any point leaves every earlier checkpoint as it was; a stale .tmp-* directory is removed by the next save.
 *
 * Dependencies:
 *   model/trainer_internal.h  hb_optim, hb_run_state, hb_trainer_cfg
 *   model/model.h             hb_model_save, the parameter table
 *   model/safetensors.h       optimizer.safetensors
 *   model/config.h            hb_config_to_json, hb_config_read_json
 *   recipe/yaml.h             the effective config as a tree
 *   core/core.h               hb_err, hb_hasher, hb_write_file_atomic
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json/json.h"
#include "model/config.h"
#include "model/safetensors.h"
#include "model/trainer_internal.h"
#include "recipe/yaml.h"

char *hb_ckpt_dir(const char *run_dir) { return hb_path_join(run_dir, "checkpoints"); }

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}
static void rmtree(const char *path) { nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static int fsync_path(const char *path, hb_err *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return hb_err_errno(err, HB_EIO, path, "cannot open for fsync");
    int rc = fsync(fd);
    close(fd);
    return rc ? hb_err_errno(err, HB_EIO, path, "fsync failed") : 0;
}

/* Size and XXH3-64 of a file, streamed. */
static int hash_file(const char *path, uint64_t *size, uint64_t *hash, hb_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return hb_err_errno(err, HB_EIO, path, "cannot open");
    hb_hasher *h = hb_hasher_new(0);
    static __thread uint8_t buf[1 << 16];
    size_t n;
    *size = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        hb_hasher_update(h, buf, n);
        *size += n;
    }
    int bad = ferror(f);
    fclose(f);
    *hash = hb_hasher_digest(h);
    hb_hasher_free(h);
    return bad ? hb_err_errno(err, HB_EIO, path, "read failed") : 0;
}

/* ---- optimizer.safetensors ---- */
typedef struct {
    const hb_optim *o;
    int slot, which; /* which: 0 m, 1 v */
} moment_ctx;

static int fill_moment(void *ctx, const char *name, void *dst, size_t nbytes, hb_err *err) {
    const moment_ctx *c = ctx;
    const hb_tensor *t = &c->o->views[2 * c->slot + c->which];
    if ((size_t)t->n * 4 != nbytes)
        return hb_err_set(err, HB_EINTERNAL, name, HB_NOPOS, HB_NOPOS, "moment size mismatch while saving");
    return hb_ops_download(c->o->ops, dst, HB_F32, t, 0, t->n, err);
}

static int save_optim(const hb_optim *o, const char *dir, hb_err *err) {
    hb_st_writer *w = hb_st_writer_new();
    hb_st_writer_meta(w, "format", "pt");
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)o->t);
    hb_st_writer_meta(w, "adam_step", t);
    moment_ctx *ctx = hb_xcalloc(2 * (size_t)o->n_slots + 1, sizeof *ctx);
    int rc = 0;
    char name[700];
    for (int s = 0; s < o->n_slots && !rc; s++) {
        const hb_param *p = o->sp[s];
        for (int k = 0; k < 2 && !rc; k++) {
            ctx[2 * s + k] = (moment_ctx){o, s, k};
            snprintf(name, sizeof name, "%s.%s", k ? "exp_avg_sq" : "exp_avg", p->name);
            rc = hb_st_writer_add_fill(w, name, HB_ST_F32, p->ndim, p->shape, fill_moment, &ctx[2 * s + k], err);
        }
    }
    char *path = hb_path_join(dir, "optimizer.safetensors");
    if (!rc) rc = hb_st_writer_save(w, path, 0, err);
    free(path);
    free(ctx);
    hb_st_writer_free(w);
    return rc;
}

int hb_ckpt_load_optim(const char *dir, hb_optim *o, hb_err *err) {
    char *path = hb_path_join(dir, "optimizer.safetensors");
    hb_st *st = NULL;
    int rc = hb_st_open(path, &st, err);
    if (rc) st = NULL;
    if (!rc && hb_st_count(st) != 2 * (size_t)o->n_slots)
        rc = hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, HB_NOPOS,
                        "%zu moment tensors for %d trained parameters (a checkpoint of another stage or model?)",
                        hb_st_count(st), o->n_slots);
    char name[700];
    float *buf = NULL;
    for (int s = 0; s < o->n_slots && !rc; s++) {
        const hb_param *p = o->sp[s];
        for (int k = 0; k < 2 && !rc; k++) {
            snprintf(name, sizeof name, "%s.%s", k ? "exp_avg_sq" : "exp_avg", p->name);
            const hb_st_tensor *t = hb_st_find(st, name);
            if (!t || t->numel != p->numel || t->dtype != HB_ST_F32) {
                rc = hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, HB_NOPOS, "%s: %s", name,
                                !t ? "missing (a checkpoint of another stage or model?)"
                                   : "wrong shape or dtype for this model");
                break;
            }
            buf = hb_xrealloc(buf, (size_t)p->numel * sizeof *buf + 4);
            if (!(rc = hb_st_read_f32(st, t, buf, p->numel, err)))
                hb_ops_upload(o->ops, &o->views[2 * s + k], 0, buf, HB_F32, p->numel);
        }
    }
    free(buf);
    if (!rc) rc = hb_ops_sync(o->ops, err);
    if (st) hb_st_close(st);
    free(path);
    return rc;
}

/* ---- state.json ---- */
static cJSON *config_tree(const hb_trainer_cfg *c) {
    hb_buf y = {0};
    hb_trainer_cfg_yaml(c, &y);
    cJSON *t = NULL;
    if (hb_yaml_parse((const char *)y.data, y.len, "config", &t, NULL)) t = cJSON_CreateObject();
    hb_buf_free(&y);
    return t;
}

static int write_state(const hb_trainer_cfg *c, const hb_run_state *st, const char *dir, hb_err *err) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "hb-train-state");
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddNumberToObject(j, "step", (double)st->step);
    cJSON_AddNumberToObject(j, "adam_step", (double)st->adam_t);
    cJSON_AddNumberToObject(j, "skipped", (double)st->skipped);
    cJSON_AddStringToObject(j, "stage", st->stage ? "ft" : "pt");
    cJSON_AddStringToObject(j, "cursor", st->cursor);
    cJSON_AddStringToObject(j, "plan_hash", st->plan_hash);
    cJSON_AddNumberToObject(j, "global_batch", (double)st->global_batch);
    cJSON_AddNumberToObject(j, "tokens", (double)st->tokens);
    cJSON_AddNumberToObject(j, "supervised_tokens", (double)st->supervised);
    cJSON_AddNumberToObject(j, "elapsed_s", st->elapsed);
    cJSON_AddNumberToObject(j, "loss", st->last_loss);
    cJSON *rng = cJSON_AddObjectToObject(j, "rng");
    cJSON_AddStringToObject(rng, "kind", "counter (hb_rng_for: no state beyond the seed and the step)");
    cJSON_AddNumberToObject(rng, "seed", (double)c->seed);
    cJSON *files = cJSON_AddObjectToObject(j, "files");
    int rc = 0;
    DIR *d = opendir(dir);
    if (!d) rc = hb_err_errno(err, HB_EIO, dir, "cannot list");
    char **names = NULL;
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "state.json") || strstr(e->d_name, ".tmp.")) continue;
        names = hb_xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = hb_xstrdup(e->d_name);
    }
    if (d) closedir(d);
    for (size_t i = 0; i < n; i++) /* sorted, so the file is reproducible */
        for (size_t k = i + 1; k < n; k++)
            if (strcmp(names[k], names[i]) < 0) {
                char *t = names[i];
                names[i] = names[k];
                names[k] = t;
            }
    for (size_t i = 0; i < n && !rc; i++) {
        char *p = hb_path_join(dir, names[i]);
        uint64_t size, h;
        rc = hash_file(p, &size, &h, err);
        char hex[17];
        hb_hash64_hex(h, hex);
        cJSON *f = cJSON_AddObjectToObject(files, names[i]);
        cJSON_AddNumberToObject(f, "bytes", (double)size);
        cJSON_AddStringToObject(f, "xxh3", hex);
        free(p);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    cJSON_AddItemToObject(j, "config", config_tree(c));
    if (!rc) {
        char *text = cJSON_Print(j), *path = hb_path_join(dir, "state.json");
        size_t len = strlen(text);
        text = hb_xrealloc(text, len + 2);
        text[len] = '\n';
        rc = hb_write_file_atomic(path, text, len + 1, err);
        free(text);
        free(path);
    }
    cJSON_Delete(j);
    return rc;
}

static int num(const cJSON *j, const char *k, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!cJSON_IsNumber(v)) return 1;
    *out = v->valuedouble;
    return 0;
}

/* A count: an integral number in [0, 2^53] (every count hb writes; converting anything else to an integer type
 * would be undefined). */
static int count(const cJSON *j, const char *k, int64_t *out) {
    long long v;
    if (hb_jint(j, k, &v) || v < 0) return 1;
    *out = v;
    return 0;
}

int hb_ckpt_read_state(const char *dir, hb_run_state *st, cJSON **config, hb_err *err) {
    memset(st, 0, sizeof *st);
    if (config) *config = NULL;
    char *path = hb_path_join(dir, "state.json");
    cJSON *j;
    int rc = hb_config_read_json(path, &j, err);
    if (rc) {
        free(path);
        return rc;
    }
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format"), *cur = cJSON_GetObjectItemCaseSensitive(j, "cursor");
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(j, "plan_hash"), *sg = cJSON_GetObjectItemCaseSensitive(j, "stage");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(j, "files");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "hb-train-state") || count(j, "step", &st->step) ||
        count(j, "adam_step", &st->adam_t) || count(j, "skipped", &st->skipped) ||
        count(j, "global_batch", &st->global_batch) || !cJSON_IsString(cur) || !cJSON_IsString(ph) ||
        !cJSON_IsString(sg) || !cJSON_IsObject(files) || st->global_batch < 1 ||
        strlen(cur->valuestring) >= sizeof st->cursor || strlen(ph->valuestring) >= sizeof st->plan_hash)
        rc = hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, HB_NOPOS, "not a valid hb-train state file");
    if (!rc) {
        /* optional: counts that are absent or not counts read as 0 */
        if (count(j, "tokens", &st->tokens)) st->tokens = 0;
        if (count(j, "supervised_tokens", &st->supervised)) st->supervised = 0;
        num(j, "elapsed_s", &st->elapsed), num(j, "loss", &st->last_loss);
        st->stage = !strcmp(sg->valuestring, "ft");
        snprintf(st->cursor, sizeof st->cursor, "%s", cur->valuestring);
        snprintf(st->plan_hash, sizeof st->plan_hash, "%s", ph->valuestring);
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, files) {
        if (rc) break;
        int64_t bytes;
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(f, "xxh3");
        if (count(f, "bytes", &bytes) || !cJSON_IsString(x) || strchr(f->string, '/')) {
            rc = hb_err_set(err, HB_EFORMAT, path, HB_NOPOS, HB_NOPOS, "bad entry for file %s", f->string);
            break;
        }
        char *fp = hb_path_join(dir, f->string), hex[17];
        uint64_t size = 0, h = 0;
        rc = hash_file(fp, &size, &h, err);
        hb_hash64_hex(h, hex);
        if (!rc && (size != (uint64_t)bytes || strcmp(hex, x->valuestring)))
            rc = hb_err_set(err, HB_ECHECKSUM, fp, HB_NOPOS, HB_NOPOS,
                            "%" PRIu64 " bytes with checksum %s; state.json recorded %" PRId64 " bytes with %s: the "
                            "checkpoint is damaged (use an older one)",
                            size, hex, bytes, x->valuestring);
        free(fp);
    }
    if (!rc && config) *config = cJSON_DetachItemFromObjectCaseSensitive(j, "config");
    cJSON_Delete(j);
    free(path);
    return rc;
}

/* ---- finding checkpoints ---- */
static int64_t step_of(const char *name) { /* step-NNNNNNNN -> N, else -1 */
    long long v;
    if (strncmp(name, "step-", 5) || hb_parse_i64(name + 5, &v) || v < 0) return -1;
    return v;
}

/* The step-* directory names in cdir, ascending by step. */
static char **list_steps(const char *cdir, size_t *n) {
    *n = 0;
    DIR *d = opendir(cdir);
    char **out = NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (step_of(e->d_name) < 0) continue;
        out = hb_xrealloc(out, (*n + 1) * sizeof *out);
        out[(*n)++] = hb_xstrdup(e->d_name);
    }
    if (d) closedir(d);
    for (size_t i = 0; i < *n; i++)
        for (size_t k = i + 1; k < *n; k++)
            if (step_of(out[k]) < step_of(out[i])) {
                char *t = out[i];
                out[i] = out[k];
                out[k] = t;
            }
    return out;
}

static void free_list(char **l, size_t n) {
    for (size_t i = 0; i < n; i++) free(l[i]);
    free(l);
}

int hb_ckpt_latest(const char *run_dir, char *path, size_t cap, hb_err *err) {
    char *cdir = hb_ckpt_dir(run_dir), *lp = hb_path_join(cdir, "latest");
    uint8_t *text = NULL;
    size_t len = 0;
    int found = 0;
    if (!hb_file_read_all(lp, &text, &len, NULL)) {
        while (len && (text[len - 1] == '\n' || text[len - 1] == ' ')) text[--len] = 0;
        char *d = hb_path_join(cdir, (char *)text), *sj = hb_path_join(d, "state.json");
        if (step_of((char *)text) >= 0 && hb_path_exists(sj)) {
            snprintf(path, cap, "%s", d);
            found = 1;
        }
        free(d), free(sj);
        free(text);
    }
    size_t n;
    char **l = found ? NULL : list_steps(cdir, &n);
    for (size_t i = found ? 0 : n; i > 0 && !found; i--) {
        char *d = hb_path_join(cdir, l[i - 1]), *sj = hb_path_join(d, "state.json");
        if (hb_path_exists(sj)) {
            snprintf(path, cap, "%s", d);
            found = 1;
        }
        free(d), free(sj);
    }
    if (!found) free_list(l, n);
    else if (l) free_list(l, n);
    free(lp);
    int rc = found ? 0 : hb_err_set(err, HB_ENOTFOUND, cdir, HB_NOPOS, HB_NOPOS, "no complete checkpoint to resume from");
    free(cdir);
    return rc;
}

/* ---- saving ---- */
int hb_ckpt_save(const hb_trainer_cfg *c, hb_model *m, const hb_optim *o, const hb_run_state *st, char *path,
                 size_t cap, hb_err *err) {
    char name[64], tmpname[96], old[96];
    snprintf(name, sizeof name, "step-%08lld", (long long)st->step);
    snprintf(tmpname, sizeof tmpname, ".tmp-%s.%d", name, (int)getpid());
    snprintf(old, sizeof old, ".old-%s.%d", name, (int)getpid());
    char *cdir = hb_ckpt_dir(c->run_dir), *tmp = hb_path_join(cdir, tmpname), *final = hb_path_join(cdir, name);
    char *oldp = hb_path_join(cdir, old);
    int rc = hb_mkdir_p(cdir, err);
    if (!rc) { /* stale temporaries of earlier, interrupted saves */
        DIR *d = opendir(cdir);
        for (struct dirent *e; d && (e = readdir(d));)
            if (!strncmp(e->d_name, ".tmp-", 5) || !strncmp(e->d_name, ".old-", 5)) {
                char *p = hb_path_join(cdir, e->d_name);
                rmtree(p);
                free(p);
            }
        if (d) closedir(d);
        rc = hb_mkdir_p(tmp, err);
    }
    if (!rc) rc = hb_model_save(m, tmp, c->ckpt_bf16 ? HB_ST_BF16 : HB_ST_F32, 0, err);
    if (!rc) hb_trainer_fault("kill-in-checkpoint", st->step);
    if (!rc) rc = save_optim(o, tmp, err);
    if (!rc) rc = write_state(c, st, tmp, err);
    if (!rc) rc = fsync_path(tmp, err);
    if (!rc) {
        int existed = hb_path_exists(final);
        if (existed && rename(final, oldp)) rc = hb_err_errno(err, HB_EIO, final, "cannot move aside");
        if (!rc && rename(tmp, final)) rc = hb_err_errno(err, HB_EIO, final, "cannot rename %s to", tmp);
        if (!rc && existed) rmtree(oldp);
    }
    if (!rc) rc = fsync_path(cdir, err);
    if (!rc) {
        char *lp = hb_path_join(cdir, "latest"), line[80];
        int n = snprintf(line, sizeof line, "%s\n", name);
        rc = hb_write_file_atomic(lp, line, (size_t)n, err);
        free(lp);
    }
    if (rc) {
        rmtree(tmp);
        hb_err_prefix(err, "while writing checkpoint %s (earlier checkpoints are intact)", name);
    } else {
        snprintf(path, cap, "%s", final);
        size_t n;
        char **l = list_steps(cdir, &n);
        for (size_t i = 0; c->ckpt_keep > 0 && n > (size_t)c->ckpt_keep && i < n - (size_t)c->ckpt_keep; i++) {
            if (!strcmp(l[i], name)) continue;
            char *p = hb_path_join(cdir, l[i]);
            rmtree(p);
            free(p);
        }
        free_list(l, n);
    }
    free(cdir), free(tmp), free(final), free(oldp);
    return rc;
}

/* ---- config differences ---- */
static void diff(const cJSON *a, const cJSON *b, const char *prefix, hb_buf *out, int *n) {
    const cJSON *x;
    cJSON_ArrayForEach(x, a) {
        char key[256];
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", x->string ? x->string : "");
        const cJSON *y = x->string ? cJSON_GetObjectItemCaseSensitive(b, x->string) : NULL;
        if (cJSON_IsObject(x) && cJSON_IsObject(y)) {
            diff(x, y, key, out, n);
            continue;
        }
        if (y && cJSON_Compare(x, y, 1)) continue;
        if (!strcmp(x->string ? x->string : "", "pretrained_vision_name_or_path") ||
            !strcmp(x->string ? x->string : "", "pretrained_lm_name_or_path") ||
            !strcmp(x->string ? x->string : "", "_name_or_path"))
            continue; /* names, not architecture */
        if ((*n)++ >= 6) continue;
        char *xs = cJSON_PrintUnformatted(x), *ys = y ? cJSON_PrintUnformatted(y) : NULL;
        hb_buf_printf(out, "%s%s: %s vs %s", out->len ? "; " : "", key, xs, ys ? ys : "(absent)");
        free(xs);
        free(ys);
    }
}

void hb_ckpt_config_diff(const hb_model_cfg *a, const hb_model_cfg *b, hb_buf *out) {
    cJSON *ja = hb_config_to_json(a), *jb = hb_config_to_json(b);
    int n = 0;
    diff(ja, jb, "", out, &n);
    if (n > 6) hb_buf_printf(out, "; and %d more", n - 6);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
}

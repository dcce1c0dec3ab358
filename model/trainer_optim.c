/* model/trainer_optim.c — the AdamW state of the trained parameters (moments in one backend arena, one slot per
 * trained parameter; decay flags from the parameter table: none for biases and norm weights, spec-model.md §7.1),
 * and the HB_TRAIN_FAULT test hook.
 *
 * Dependencies:
 *   model/trainer_internal.h  hb_optim
 *   model/model.h             the parameter table and the flat group tensors
 *   kernels/ops.h             arenas, views
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/trainer_internal.h"

static const hb_group GROUPS[3] = {HB_GROUP_VISION, HB_GROUP_PROJ, HB_GROUP_LM};

int hb_optim_init(hb_optim *o, hb_model *m, hb_err *err) {
    memset(o, 0, sizeof *o);
    o->ops = hb_model_ops(m);
    int np = 0;
    const hb_param *ps = hb_model_params(m, &np);
    int64_t bytes = 0;
    hb_tensor w[3], g[3];
    for (int k = 0; k < 3; k++) {
        hb_model_group(m, GROUPS[k], &w[k], &g[k]);
        if (g[k].arena) bytes += 2 * hb_ops_bytes(o->ops, HB_F32, w[k].n);
    }
    o->arena = hb_ops_arena_new(o->ops, "optim", bytes ? bytes : hb_ops_bytes(o->ops, HB_F32, 1), err);
    if (!o->arena) return err ? (int)err->code : HB_EINTERNAL;
    int rc = 0;
    for (int k = 0; k < 3 && !rc; k++) {
        if (!g[k].arena) continue;
        rc = hb_ops_alloc(o->arena, &o->m[k], HB_F32, w[k].n, k == 0 ? "adam_m.vision" : k == 1 ? "adam_m.proj"
                                                                                              : "adam_m.lm", err);
        if (!rc)
            rc = hb_ops_alloc(o->arena, &o->v[k], HB_F32, w[k].n, k == 0 ? "adam_v.vision" : k == 1 ? "adam_v.proj"
                                                                                                 : "adam_v.lm", err);
        o->gflat[k] = g[k];
        o->grads[o->n_grads++] = &o->gflat[k];
    }
    if (rc) return rc;
    for (int i = 0; i < np; i++) o->n_slots += ps[i].trained;
    o->slots = hb_xcalloc((size_t)o->n_slots + 1, sizeof *o->slots);
    o->sp = hb_xcalloc((size_t)o->n_slots + 1, sizeof *o->sp);
    o->views = hb_xcalloc(2 * (size_t)o->n_slots + 1, sizeof *o->views);
    int s = 0;
    for (int i = 0; i < np; i++) {
        const hb_param *p = &ps[i];
        if (!p->trained) continue;
        int k = p->group == HB_GROUP_VISION ? 0 : p->group == HB_GROUP_PROJ ? 1 : 2;
        o->views[2 * s] = hb_tensor_view(&o->m[k], p->offset, p->numel);
        o->views[2 * s + 1] = hb_tensor_view(&o->v[k], p->offset, p->numel);
        o->slots[s] = (hb_adamw_slot){.param = &p->w, .grad = &p->g, .m = &o->views[2 * s],
                                      .v = &o->views[2 * s + 1], .master = NULL, .decay = p->decay};
        o->sp[s] = p;
        o->numel += p->numel;
        s++;
    }
    return hb_ops_sync(o->ops, err);
}

void hb_optim_free(hb_optim *o) {
    free(o->slots);
    free(o->sp);
    free(o->views);
    memset(o, 0, sizeof *o);
}

int64_t hb_optim_bytes(const hb_optim *o) { return o->arena ? hb_ops_arena_used(o->arena) : 0; }

void hb_trainer_fault(const char *where, int64_t step) {
    const char *f = getenv("HB_TRAIN_FAULT");
    if (!f) return;
    size_t n = strlen(where);
    if (strncmp(f, where, n) || f[n] != ':') return;
    long long at;
    if (hb_parse_i64(f + n + 1, &at) || at != step) return;
    fflush(NULL);
    kill(getpid(), SIGKILL);
}

/* model/init.c — random initialisation: Honeybee's for the projector (spec-model.md §3.9) and HF's for CLIP and
 * LLaMA (used only when no pretrained weights are given).
 *
 * Dependencies:
 *   model/model_internal.h  hb_model, hb_param
 *   kernels/ops.h           hb_ops_upload
 *   core/core.h             hb_rng_for / hb_rng_uniform (every value is a function of seed and tensor name)
 *
 * Rules by parameter:
 *   abstractor  Conv2d and Linear weights N(0, r²) with r = projector initializer_range (0.02), biases 0,
 *               LayerNorm(Act2d) weights 1 and biases 0, pos_emb and eos_tokens truncated N(0, r²) at ±2.
 *   CLIP        (HF CLIPPreTrainedModel._init_weights, factor 1) class_embedding N(0, C^-1), patch and position
 *               embeddings N(0, 0.02²), q/k/v and fc2 N(0, C^-1·(2L)^-1), out_proj N(0, C^-1), fc1 N(0, (2C)^-1),
 *               biases 0, LayerNorms 1/0.
 *   LLaMA       (HF LlamaPreTrainedModel) Linear and embedding N(0, 0.02²) with the pad_token_id row zeroed,
 *               RMSNorm weights 1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

static int ends(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

typedef enum { K_ZERO, K_ONE, K_NORMAL, K_TRUNC } kind;

static kind rule(const hb_model *m, const hb_param *p, double *std) {
    const char *n = p->name;
    if (p->group == HB_GROUP_PROJ) {
        double r = m->cfg.proj.initializer_range;
        *std = r;
        if (ends(n, ".bias")) return K_ZERO;
        if (ends(n, ".bn.weight") || ends(n, "prenorm.weight")) return K_ONE;
        if (ends(n, "pos_emb") || ends(n, "eos_tokens")) return K_TRUNC;
        return K_NORMAL;
    }
    if (p->group == HB_GROUP_VISION) {
        double C = m->cfg.vision.hidden_size, L = m->cfg.vision.num_hidden_layers;
        if (strstr(n, "norm") || strstr(n, "layrnorm")) return ends(n, ".weight") ? K_ONE : K_ZERO;
        if (ends(n, ".bias")) return K_ZERO;
        double in_std = pow(C, -0.5) * pow(2 * L, -0.5);
        if (ends(n, "class_embedding")) *std = pow(C, -0.5);
        else if (strstr(n, "embeddings.")) *std = 0.02;
        else if (strstr(n, "out_proj")) *std = pow(C, -0.5);
        else if (strstr(n, "fc1")) *std = pow(2 * C, -0.5);
        else *std = in_std; /* q/k/v and fc2 */
        return K_NORMAL;
    }
    *std = 0.02;
    return ends(n, "norm.weight") || ends(n, "layernorm.weight") ? K_ONE : K_NORMAL;
}

/* Box-Muller: each pair of uniforms gives two independent normals (the second is kept for the next call). */
typedef struct {
    hb_rng r;
    int have;
    double spare;
} normal_gen;

static double normal(normal_gen *g) {
    if (g->have) {
        g->have = 0;
        return g->spare;
    }
    double u1 = 1.0 - hb_rng_uniform(&g->r), u2 = hb_rng_uniform(&g->r); /* u1 in (0, 1] */
    double rad = sqrt(-2.0 * log(u1)), a = 2.0 * M_PI * u2;
    g->spare = rad * sin(a);
    g->have = 1;
    return rad * cos(a);
}

int hb_model_init(hb_model *m, uint64_t seed, unsigned groups, hb_err *err) {
    enum { CHUNK = 1 << 20 };
    float *buf = hb_xmalloc(CHUNK * sizeof *buf);
    uint64_t total = 0;
    for (int i = 0; i < m->nparams; i++)
        if (m->params[i].group & groups) total += (uint64_t)m->params[i].numel;
    hb_progress *pg = hb_progress_start("initialising", total, "params");
    int64_t pad = m->cfg.text.pad_token_id, C = m->cfg.text.hidden_size;
    for (int i = 0; i < m->nparams; i++) {
        const hb_param *p = &m->params[i];
        if (!(p->group & groups)) continue;
        double std = 0;
        kind k = rule(m, p, &std);
        normal_gen r = {hb_rng_for(seed, "init", p->name), 0, 0.0};
        int zero_pad = ends(p->name, "embed_tokens.weight") && pad >= 0 && pad < m->cfg.text.vocab_size;
        for (int64_t off = 0; off < p->numel; off += CHUNK) {
            int64_t n = p->numel - off < CHUNK ? p->numel - off : CHUNK;
            for (int64_t j = 0; j < n; j++) {
                double v = k == K_ZERO ? 0.0 : k == K_ONE ? 1.0 : normal(&r) * std;
                while (k == K_TRUNC && fabs(v) > 2.0) v = normal(&r) * std; /* trunc_normal_: absolute ±2 */
                int64_t e = off + j;
                if (zero_pad && e / C == pad) v = 0.0;
                buf[j] = (float)v;
            }
            hb_ops_upload(m->ops, &p->w, off, buf, HB_F32, n);
        }
        hb_progress_add(pg, (uint64_t)p->numel);
    }
    hb_progress_done(pg);
    free(buf);
    return hb_ops_sync(m->ops, err);
}

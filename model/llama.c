/* model/llama.c — the LLaMA language model (spec-model.md §6): forward, the LM head with the masked cross-entropy,
 * and backward.
 *
 * Dependencies:
 *   model/model_internal.h  hb_model, llama_t (weights and gradients), llama_acts
 *   kernels/ops.h           embed, RMSNorm (+residual), linear, RoPE, causal attention, SwiGLU, gather, xent, sum
 *
 * Forward (HF LlamaForCausalLM, transformers 4.38; training uses no attention mask: pure causal attention over the
 * right-padded length, positions 0..T-1):
 *   X = embed(ids) with the visual rows spliced in
 *   per layer: X += o_proj(attn(rope(qkv(RMSNorm_in(X)))));  X += down(silu(gate(h)) ⊙ up(h)), h = RMSNorm_post(X)
 *   logits = RMSNorm_final(X)·Wlmᵀ
 * Saved per layer for the backward: the residual stream before each norm (xs, xmid), the post-RoPE qkv, the
 * attention output and its log-sum-exp, the gate/up output and the norms' rstd. The normalised inputs h and the
 * SwiGLU output are recomputed in the backward (one cheap op each) instead of stored.
 * The head runs over a list of rows (the supervised ones in training; all of them for hb-train debug), in chunks
 * of at most lm_chunk rows; with a backward, the cross-entropy writes d_logits in the same pass, and the head's
 * backward runs right away, so only one chunk of logits ever exists. */
#include <math.h>

#include "model/model_internal.h"

void hb_llama_forward(hb_model *m, int64_t B, int64_t T) {
    hb_ops *o = m->ops;
    const hb_llama_cfg *c = &m->cfg.text;
    const llama_t *w = &m->lm;
    llama_acts *a = &m->la;
    int64_t C = c->hidden_size, I = c->intermediate_size, H = c->num_attention_heads, hd = C / H, R = B * T;
    int64_t L = c->num_hidden_layers, V = c->vocab_size, nv = m->cur_images * m->nvis;
    float eps = (float)c->rms_norm_eps, theta = (float)c->rope_theta, scale = 1.0f / sqrtf((float)hd);

    hb_ops_embed_fwd(o, &a->xs[0], &w->embed, nv ? &m->ca.vis : NULL, &a->src, R, C, V, nv);
    if (L == 0) hb_ops_rmsnorm_fwd(o, &a->hf, &a->rstdf, &a->xs[0], &w->norm_w, R, C, eps);
    else hb_ops_rmsnorm_fwd(o, &a->h, &a->rstd1[0], &a->xs[0], &w->layers[0].in_w, R, C, eps);
    for (int64_t l = 0; l < L; l++) {
        const llama_layer_t *y = &w->layers[l];
        hb_ops_linear_fwd(o, &a->qkv[l], &a->h, &y->qkv_w, NULL, R, 3 * C, C, 0);
        hb_ops_rope_fwd(o, &a->qkv[l], NULL, B, T, H, hd, theta);
        hb_ops_attn_fwd(o, &a->att[l], &a->lse[l], &a->qkv[l], NULL, B, T, H, hd, scale, 1);
        hb_ops_linear_fwd(o, &a->tmp, &a->att[l], &y->o_w, NULL, R, C, C, 0);
        hb_ops_residual_rmsnorm_fwd(o, &a->xmid[l], &a->h, &a->rstd2[l], &a->xs[l], &a->tmp, &y->post_w, R, C, eps);
        hb_ops_linear_fwd(o, &a->ab[l], &a->h, &y->gu_w, NULL, R, 2 * I, C, 0);
        hb_ops_swiglu_fwd(o, &a->m, &a->ab[l], R, I);
        hb_ops_linear_fwd(o, &a->tmp, &a->m, &y->down_w, NULL, R, C, I, 0);
        if (l + 1 < L)
            hb_ops_residual_rmsnorm_fwd(o, &a->xs[l + 1], &a->h, &a->rstd1[l + 1], &a->xmid[l], &a->tmp,
                                        &w->layers[l + 1].in_w, R, C, eps);
        else
            hb_ops_residual_rmsnorm_fwd(o, &a->xs[L], &a->hf, &a->rstdf, &a->xmid[l], &a->tmp, &w->norm_w, R, C,
                                        eps);
    }
}

void hb_llama_head(hb_model *m, int64_t B, int64_t T, int backward, float scale) {
    hb_ops *o = m->ops;
    const hb_llama_cfg *c = &m->cfg.text;
    llama_acts *a = &m->la;
    int64_t C = c->hidden_size, V = c->vocab_size, R = B * T, n = m->cur_sel, chunk = m->lm_chunk;
    const hb_tensor *dlog = m->opts.all_logits ? &a->dlogits : &a->logits; /* debug keeps the logits */
    if (backward) hb_ops_zero(o, &a->dh); /* d(final normed hidden), gathered into below */
    hb_ops_zero(o, &a->losses);
    for (int64_t c0 = 0; c0 < n; c0 += chunk) {
        int64_t nc = n - c0 < chunk ? n - c0 : chunk;
        hb_tensor idx = hb_tensor_view(&a->sel, c0, nc), tgt = hb_tensor_view(&a->sel_tgt, c0, nc);
        hb_tensor loss = hb_tensor_view(&a->losses, c0, nc);
        hb_ops_gather_rows(o, &a->hsel, &a->hf, &idx, nc, C, R);
        hb_ops_linear_fwd(o, &a->logits, &a->hsel, &m->lm.lm_w, NULL, nc, V, C, 0);
        if (!backward) {
            hb_ops_xent_fwd(o, &loss, &a->logits, &tgt, nc, V);
            continue;
        }
        hb_ops_xent_fwd_bwd(o, dlog, &loss, &a->logits, &tgt, nc, V, scale);
        hb_ops_linear_bwd_weight(o, hb_opt(&m->lm_g.lm_w), NULL, dlog, &a->hsel, nc, V, C);
        hb_ops_linear_bwd_data(o, &a->dhsel, dlog, &m->lm.lm_w, nc, V, C, 0);
        hb_ops_gather_rows_bwd(o, &a->dh, &a->dhsel, &idx, nc, C, R);
    }
    hb_ops_sum(o, &a->loss_sum, &a->losses, n > 0 ? n : 1);
}

void hb_llama_backward(hb_model *m, int64_t B, int64_t T) {
    hb_ops *o = m->ops;
    const hb_llama_cfg *c = &m->cfg.text;
    const llama_t *w = &m->lm, *g = &m->lm_g;
    llama_acts *a = &m->la;
    int64_t C = c->hidden_size, I = c->intermediate_size, H = c->num_attention_heads, hd = C / H, R = B * T;
    int64_t L = c->num_hidden_layers, V = c->vocab_size, nv = m->cur_images * m->nvis;
    float eps = (float)c->rms_norm_eps, theta = (float)c->rope_theta, scale = 1.0f / sqrtf((float)hd);

    /* final norm: d_hf (in dh) -> the residual stream gradient dx */
    hb_ops_rmsnorm_bwd(o, &a->dx, hb_opt(&g->norm_w), &a->dh, &a->xs[L], &a->rstdf, &w->norm_w, R, C, 0);
    for (int64_t l = L - 1; l >= 0; l--) {
        const llama_layer_t *y = &w->layers[l], *gy = &g->layers[l];
        int wgrad = hb_opt(&gy->qkv_w) != NULL; /* FT: weight gradients; PT: activations only */
        /* MLP branch: x_{l+1} = xmid + down(swiglu(gate_up(RMSNorm_post(xmid)))) */
        if (wgrad) {
            hb_ops_rmsnorm_fwd(o, &a->h, NULL, &a->xmid[l], &y->post_w, R, C, eps);
            hb_ops_swiglu_fwd(o, &a->m, &a->ab[l], R, I);
            hb_ops_linear_bwd_weight(o, &gy->down_w, NULL, &a->dx, &a->m, R, C, I);
        }
        hb_ops_linear_bwd_data(o, &a->dm, &a->dx, &y->down_w, R, C, I, 0);
        hb_ops_swiglu_bwd(o, &a->dab, &a->dm, &a->ab[l], R, I);
        if (wgrad) hb_ops_linear_bwd_weight(o, &gy->gu_w, NULL, &a->dab, &a->h, R, 2 * I, C);
        hb_ops_linear_bwd_data(o, &a->dh, &a->dab, &y->gu_w, R, 2 * I, C, 0);
        hb_ops_rmsnorm_bwd(o, &a->dx, hb_opt(&gy->post_w), &a->dh, &a->xmid[l], &a->rstd2[l], &y->post_w, R, C, 1);
        /* attention branch: xmid = x_l + o_proj(attn(rope(qkv(RMSNorm_in(x_l))))) */
        if (wgrad) hb_ops_linear_bwd_weight(o, &gy->o_w, NULL, &a->dx, &a->att[l], R, C, C);
        hb_ops_linear_bwd_data(o, &a->datt, &a->dx, &y->o_w, R, C, C, 0);
        hb_ops_attn_bwd(o, &a->dqkv, &a->datt, &a->att[l], &a->lse[l], &a->qkv[l], NULL, B, T, H, hd, scale, 1);
        hb_ops_rope_bwd(o, &a->dqkv, NULL, B, T, H, hd, theta);
        if (wgrad) {
            hb_ops_rmsnorm_fwd(o, &a->h, NULL, &a->xs[l], &y->in_w, R, C, eps);
            hb_ops_linear_bwd_weight(o, &gy->qkv_w, NULL, &a->dqkv, &a->h, R, 3 * C, C);
        }
        hb_ops_linear_bwd_data(o, &a->dh, &a->dqkv, &y->qkv_w, R, 3 * C, C, 0);
        hb_ops_rmsnorm_bwd(o, &a->dx, hb_opt(&gy->in_w), &a->dh, &a->xs[l], &a->rstd1[l], &y->in_w, R, C, 1);
    }
    /* embedding: table rows (FT) and the visual rows (to the projector) */
    hb_ops_embed_bwd(o, hb_opt(&g->embed), nv ? &a->dvis : NULL, &a->dx, &a->src, R, C, V, nv);
}

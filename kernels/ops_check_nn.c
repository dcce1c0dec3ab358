/* kernels/ops_check_nn.c — the checking wrappers of the model-level ops of kernels/ops.h: attention and RoPE,
 * embeddings and the visual splice, patches and positions, the convolutional projector ops, the loss and the
 * optimizer (kernels/ops_check.c has the rest and explains the pattern).
 *
 * Dependencies:
 *   kernels/ops_check.h   BEGIN/NEED/OPT/ARG/NOALIAS/failed/RUN, the vtable
 *   <math.h>              sqrt (grad norm)
 */
#include "kernels/ops_check.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------------------------
 * Attention
 * ------------------------------------------------------------------------------------------------------------- */
int hb_ops_attn_prepare(hb_ops *o, int64_t max_B, int64_t max_T, int64_t H, int64_t D, int causal, hb_err *err) {
    if (o->failed) return hb_ops_sync(o, err);
    if (max_B <= 0 || max_T <= 0 || H <= 0 || D <= 0)
        return hb_err_set(err, HB_EINVAL, NULL, HB_NOPOS, HB_NOPOS,
                          "attn_prepare(B=%lld T=%lld H=%lld D=%lld): sizes must be positive", L(max_B), L(max_T),
                          L(H), L(D));
    causal = causal ? 1 : 0;
    hb_attn_family *f = NULL;
    for (int i = 0; i < o->n_attn; i++)
        if (o->attn[i].H == H && o->attn[i].D == D && o->attn[i].causal == causal) f = &o->attn[i];
    if (!f) {
        if (o->n_attn == HB_OPS_MAX_ATTN)
            return hb_err_set(err, HB_ERANGE, NULL, HB_NOPOS, HB_NOPOS, "attn_prepare: more than %d attention families",
                              HB_OPS_MAX_ATTN);
        f = &o->attn[o->n_attn++];
        *f = (hb_attn_family){0, 0, H, D, causal};
    }
    if (max_B > f->max_B) f->max_B = max_B;
    if (max_T > f->max_T) f->max_T = max_T;
    int64_t ws = o->vt->attn_workspace(o, f->max_B, f->max_T, H, D, causal);
    if (ws > o->workspace_bytes) {
        if (o->vt->workspace_reserve(o, ws, err)) {
            hb_err_prefix(err, "attn_prepare(B=%lld T=%lld H=%lld D=%lld)", L(max_B), L(max_T), L(H), L(D));
            return err ? (int)err->code : HB_ENOMEM;
        }
        o->workspace_bytes = ws;
    }
    return 0;
}

static void attn_family(chk *c, int64_t B, int64_t T, int64_t H, int64_t D, int causal) {
    hb_ops *o = c->o;
    for (int i = 0; i < o->n_attn; i++) {
        const hb_attn_family *f = &o->attn[i];
        if (f->H == H && f->D == D && f->causal == (causal ? 1 : 0) && B <= f->max_B && T <= f->max_T) return;
    }
    arg(c, 0, "no hb_ops_attn_prepare covers this shape (B=%lld T=%lld H=%lld D=%lld %s)", L(B), L(T), L(H), L(D),
        causal ? "causal" : "non-causal");
}

#define ATTN_SHAPE "B=%lld T=%lld H=%lld D=%lld %s", L(B), L(T), L(H), L(D), causal ? "causal" : "non-causal"

void hb_ops_attn_fwd(hb_ops *o, const hb_tensor *out, const hb_tensor *lse, const hb_tensor *qkv,
                     const hb_tensor *lens, int64_t B, int64_t T, int64_t H, int64_t D, float scale, int causal) {
    BEGIN("attn_fwd");
    ARG(B >= 0 && T >= 0 && H > 0 && D > 0, "sizes must be positive");
    attn_family(c, B, T, H, D, causal);
    int64_t n_out = M4(B, T, H, D), n_qkv = M2(3, n_out);
    NEED(out, n_out, FLT);
    NEED(lse, M3(B, H, T), F32);
    NEED(qkv, n_qkv, FLT);
    OPT(lens, B, I32);
    NOALIAS(out, n_out, qkv, n_qkv);
    if (failed(c, ATTN_SHAPE)) return;
    if (B && T) RUN(attn_fwd, out, lse, qkv, lens, B, T, H, D, scale, causal ? 1 : 0);
}

void hb_ops_attn_bwd(hb_ops *o, const hb_tensor *d_qkv, const hb_tensor *d_out, const hb_tensor *out,
                     const hb_tensor *lse, const hb_tensor *qkv, const hb_tensor *lens, int64_t B, int64_t T,
                     int64_t H, int64_t D, float scale, int causal) {
    BEGIN("attn_bwd");
    ARG(B >= 0 && T >= 0 && H > 0 && D > 0, "sizes must be positive");
    attn_family(c, B, T, H, D, causal);
    int64_t n_out = M4(B, T, H, D), n_qkv = M2(3, n_out);
    NEED(d_qkv, n_qkv, FLT);
    NEED(d_out, n_out, FLT);
    NEED(out, n_out, FLT);
    NEED(lse, M3(B, H, T), F32);
    NEED(qkv, n_qkv, FLT);
    OPT(lens, B, I32);
    NOALIAS(d_qkv, n_qkv, qkv, n_qkv);
    NOALIAS(d_qkv, n_qkv, d_out, n_out);
    NOALIAS(d_qkv, n_qkv, out, n_out);
    if (failed(c, ATTN_SHAPE)) return;
    if (B && T) RUN(attn_bwd, d_qkv, d_out, out, lse, qkv, lens, B, T, H, D, scale, causal ? 1 : 0);
}

#define ROPE_SHAPE "B=%lld T=%lld H=%lld D=%lld theta=%g", L(B), L(T), L(H), L(D), (double)theta

void hb_ops_rope_fwd(hb_ops *o, const hb_tensor *qkv, const hb_tensor *positions, int64_t B, int64_t T, int64_t H,
                     int64_t D, float theta) {
    BEGIN("rope_fwd");
    ARG(B >= 0 && T >= 0 && H > 0 && D > 0 && D % 2 == 0, "sizes must be positive and D even");
    ARG(theta > 0, "theta must be positive");
    NEED(qkv, M4(B, T, 3 * H, D), FLT);
    OPT(positions, M2(B, T), I32);
    if (failed(c, ROPE_SHAPE)) return;
    RUN(rope_fwd, qkv, positions, B, T, H, D, theta);
}

void hb_ops_rope_bwd(hb_ops *o, const hb_tensor *d_qkv, const hb_tensor *positions, int64_t B, int64_t T, int64_t H,
                     int64_t D, float theta) {
    BEGIN("rope_bwd");
    ARG(B >= 0 && T >= 0 && H > 0 && D > 0 && D % 2 == 0, "sizes must be positive and D even");
    ARG(theta > 0, "theta must be positive");
    NEED(d_qkv, M4(B, T, 3 * H, D), FLT);
    OPT(positions, M2(B, T), I32);
    if (failed(c, ROPE_SHAPE)) return;
    RUN(rope_bwd, d_qkv, positions, B, T, H, D, theta);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Embeddings, rows, patches, positions
 * ------------------------------------------------------------------------------------------------------------- */
#define EMB_SHAPE "rows=%lld C=%lld V=%lld n_visual=%lld", L(rows), L(C), L(V), L(n_visual)

void hb_ops_embed_fwd(hb_ops *o, const hb_tensor *x, const hb_tensor *table, const hb_tensor *visual,
                      const hb_tensor *src, int64_t rows, int64_t C, int64_t V, int64_t n_visual) {
    BEGIN("embed_fwd");
    ARG(rows >= 0 && C > 0 && V > 0 && n_visual >= 0, "sizes must be positive");
    NEED(x, M2(rows, C), FLT);
    NEED(table, M2(V, C), FLT);
    if (n_visual > 0) NEED(visual, M2(n_visual, C), FLT);
    NEED(src, rows, I32);
    if (failed(c, EMB_SHAPE)) return;
    RUN(embed_fwd, x, table, n_visual > 0 ? visual : NULL, src, rows, C, V, n_visual);
}

void hb_ops_embed_bwd(hb_ops *o, const hb_tensor *d_table, const hb_tensor *d_visual, const hb_tensor *d_x,
                      const hb_tensor *src, int64_t rows, int64_t C, int64_t V, int64_t n_visual) {
    BEGIN("embed_bwd");
    ARG(rows >= 0 && C > 0 && V > 0 && n_visual >= 0, "sizes must be positive");
    OPT(d_table, M2(V, C), FLT);
    if (n_visual > 0) OPT(d_visual, M2(n_visual, C), FLT);
    NEED(d_x, M2(rows, C), FLT);
    NEED(src, rows, I32);
    if (failed(c, EMB_SHAPE)) return;
    RUN(embed_bwd, d_table, n_visual > 0 ? d_visual : NULL, d_x, src, rows, C, V, n_visual);
}

void hb_ops_gather_rows(hb_ops *o, const hb_tensor *out, const hb_tensor *in, const hb_tensor *idx, int64_t n,
                        int64_t C, int64_t in_rows) {
    BEGIN("gather_rows");
    ARG(n >= 0 && C > 0 && in_rows >= 0, "sizes must be positive");
    NEED(out, M2(n, C), FLT);
    NEED(in, M2(in_rows, C), FLT);
    NEED(idx, n, I32);
    NOALIAS(out, M2(n, C), in, M2(in_rows, C));
    if (failed(c, "n=%lld C=%lld in_rows=%lld", L(n), L(C), L(in_rows))) return;
    RUN(gather_rows, out, in, idx, n, C, in_rows);
}

void hb_ops_gather_rows_bwd(hb_ops *o, const hb_tensor *d_in, const hb_tensor *d_out, const hb_tensor *idx, int64_t n,
                            int64_t C, int64_t in_rows) {
    BEGIN("gather_rows_bwd");
    ARG(n >= 0 && C > 0 && in_rows >= 0, "sizes must be positive");
    NEED(d_in, M2(in_rows, C), FLT);
    NEED(d_out, M2(n, C), FLT);
    NEED(idx, n, I32);
    NOALIAS(d_in, M2(in_rows, C), d_out, M2(n, C));
    if (failed(c, "n=%lld C=%lld in_rows=%lld", L(n), L(C), L(in_rows))) return;
    RUN(gather_rows_bwd, d_in, d_out, idx, n, C, in_rows);
}

#define PATCH_SHAPE "B=%lld Cin=%lld S=%lld P=%lld", L(B), L(Cin), L(S), L(P)

void hb_ops_im2col_patches(hb_ops *o, const hb_tensor *cols, const hb_tensor *pixels, int64_t B, int64_t Cin,
                           int64_t S, int64_t P) {
    BEGIN("im2col_patches");
    ARG(B >= 0 && Cin > 0 && S > 0 && P > 0 && S % P == 0, "sizes must be positive and S a multiple of P");
    NEED(cols, M4(B, Cin, S, S), FLT);
    NEED(pixels, M4(B, Cin, S, S), FLT);
    NOALIAS(cols, M4(B, Cin, S, S), pixels, M4(B, Cin, S, S));
    if (failed(c, PATCH_SHAPE)) return;
    RUN(im2col_patches, cols, pixels, B, Cin, S, P);
}

void hb_ops_im2col_patches_bwd(hb_ops *o, const hb_tensor *d_pixels, const hb_tensor *d_cols, int64_t B, int64_t Cin,
                               int64_t S, int64_t P) {
    BEGIN("im2col_patches_bwd");
    ARG(B >= 0 && Cin > 0 && S > 0 && P > 0 && S % P == 0, "sizes must be positive and S a multiple of P");
    NEED(d_pixels, M4(B, Cin, S, S), FLT);
    NEED(d_cols, M4(B, Cin, S, S), FLT);
    NOALIAS(d_pixels, M4(B, Cin, S, S), d_cols, M4(B, Cin, S, S));
    if (failed(c, PATCH_SHAPE)) return;
    RUN(im2col_patches_bwd, d_pixels, d_cols, B, Cin, S, P);
}

void hb_ops_vit_embed_fwd(hb_ops *o, const hb_tensor *x, const hb_tensor *patches, const hb_tensor *cls,
                          const hb_tensor *pos, int64_t B, int64_t N, int64_t C) {
    BEGIN("vit_embed_fwd");
    ARG(B >= 0 && N > 0 && C > 0, "sizes must be positive");
    NEED(x, M3(B, N + 1, C), FLT);
    NEED(patches, M3(B, N, C), FLT);
    NEED(cls, C, FLT);
    NEED(pos, M2(N + 1, C), FLT);
    NOALIAS(x, M3(B, N + 1, C), patches, M3(B, N, C));
    if (failed(c, "B=%lld N=%lld C=%lld", L(B), L(N), L(C))) return;
    RUN(vit_embed_fwd, x, patches, cls, pos, B, N, C);
}

void hb_ops_vit_embed_bwd(hb_ops *o, const hb_tensor *d_patches, const hb_tensor *d_cls, const hb_tensor *d_pos,
                          const hb_tensor *d_x, int64_t B, int64_t N, int64_t C) {
    BEGIN("vit_embed_bwd");
    ARG(B >= 0 && N > 0 && C > 0, "sizes must be positive");
    OPT(d_patches, M3(B, N, C), FLT);
    OPT(d_cls, C, FLT);
    OPT(d_pos, M2(N + 1, C), FLT);
    NEED(d_x, M3(B, N + 1, C), FLT);
    NOALIAS(d_patches, M3(B, N, C), d_x, M3(B, N + 1, C));
    if (failed(c, "B=%lld N=%lld C=%lld", L(B), L(N), L(C))) return;
    RUN(vit_embed_bwd, d_patches, d_cls, d_pos, d_x, B, N, C);
}

void hb_ops_posemb_add_fwd(hb_ops *o, const hb_tensor *out, const hb_tensor *x, const hb_tensor *pos, int64_t B,
                           int64_t N, int64_t C, int64_t skip) {
    BEGIN("posemb_add_fwd");
    ARG(B >= 0 && N > 0 && C > 0 && skip >= 0, "sizes must be positive");
    NEED(out, M3(B, N, C), FLT);
    NEED(x, M3(B, N + skip, C), FLT);
    NEED(pos, M2(N, C), FLT);
    NOALIAS(out, M3(B, N, C), x, M3(B, N + skip, C));
    if (failed(c, "B=%lld N=%lld C=%lld skip=%lld", L(B), L(N), L(C), L(skip))) return;
    RUN(posemb_add_fwd, out, x, pos, B, N, C, skip);
}

void hb_ops_posemb_add_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_pos, const hb_tensor *d_out, int64_t B,
                           int64_t N, int64_t C, int64_t skip) {
    BEGIN("posemb_add_bwd");
    ARG(B >= 0 && N > 0 && C > 0 && skip >= 0, "sizes must be positive");
    OPT(d_x, M3(B, N + skip, C), FLT);
    OPT(d_pos, M2(N, C), FLT);
    NEED(d_out, M3(B, N, C), FLT);
    NOALIAS(d_x, M3(B, N + skip, C), d_out, M3(B, N, C));
    if (failed(c, "B=%lld N=%lld C=%lld skip=%lld", L(B), L(N), L(C), L(skip))) return;
    RUN(posemb_add_bwd, d_x, d_pos, d_out, B, N, C, skip);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Convolutional projector
 * ------------------------------------------------------------------------------------------------------------- */
#define CONV_SHAPE "B=%lld H=%lld W=%lld C=%lld", L(B), L(H), L(W), L(C)

void hb_ops_dwconv3x3_fwd(hb_ops *o, const hb_tensor *y, const hb_tensor *x, const hb_tensor *w, int64_t B, int64_t H,
                          int64_t W, int64_t C) {
    BEGIN("dwconv3x3_fwd");
    int64_t n = M4(B, H, W, C);
    ARG(B >= 0 && H > 0 && W > 0 && C > 0, "sizes must be positive");
    NEED(y, n, FLT);
    NEED(x, n, FLT);
    NEED(w, M2(C, 9), FLT);
    NOALIAS(y, n, x, n);
    if (failed(c, CONV_SHAPE)) return;
    RUN(dwconv3x3_fwd, y, x, w, B, H, W, C);
}

void hb_ops_dwconv3x3_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_w, const hb_tensor *d_y,
                          const hb_tensor *x, const hb_tensor *w, int64_t B, int64_t H, int64_t W, int64_t C) {
    BEGIN("dwconv3x3_bwd");
    int64_t n = M4(B, H, W, C);
    ARG(B >= 0 && H > 0 && W > 0 && C > 0, "sizes must be positive");
    OPT(d_x, n, FLT);
    OPT(d_w, M2(C, 9), FLT);
    NEED(d_y, n, FLT);
    if (d_w) NEED(x, n, FLT);
    if (d_x) NEED(w, M2(C, 9), FLT);
    NOALIAS(d_x, n, d_y, n);
    if (failed(c, CONV_SHAPE)) return;
    if (d_x || d_w) RUN(dwconv3x3_bwd, d_x, d_w, d_y, x, w, B, H, W, C);
}

#define POOL_SHAPE "B=%lld %lldx%lld -> %lldx%lld C=%lld", L(B), L(IH), L(IW), L(OH), L(OW), L(C)

void hb_ops_adaptive_avgpool_fwd(hb_ops *o, const hb_tensor *y, const hb_tensor *x, int64_t B, int64_t IH, int64_t IW,
                                 int64_t OH, int64_t OW, int64_t C) {
    BEGIN("adaptive_avgpool_fwd");
    ARG(B >= 0 && IH > 0 && IW > 0 && OH > 0 && OW > 0 && C > 0, "sizes must be positive");
    NEED(y, M4(B, OH, OW, C), FLT);
    NEED(x, M4(B, IH, IW, C), FLT);
    NOALIAS(y, M4(B, OH, OW, C), x, M4(B, IH, IW, C));
    if (failed(c, POOL_SHAPE)) return;
    RUN(adaptive_avgpool_fwd, y, x, B, IH, IW, OH, OW, C);
}

void hb_ops_adaptive_avgpool_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_y, int64_t B, int64_t IH,
                                 int64_t IW, int64_t OH, int64_t OW, int64_t C) {
    BEGIN("adaptive_avgpool_bwd");
    ARG(B >= 0 && IH > 0 && IW > 0 && OH > 0 && OW > 0 && C > 0, "sizes must be positive");
    NEED(d_x, M4(B, IH, IW, C), FLT);
    NEED(d_y, M4(B, OH, OW, C), FLT);
    NOALIAS(d_x, M4(B, IH, IW, C), d_y, M4(B, OH, OW, C));
    if (failed(c, POOL_SHAPE)) return;
    RUN(adaptive_avgpool_bwd, d_x, d_y, B, IH, IW, OH, OW, C);
}

#define SE_SHAPE "B=%lld HW=%lld C=%lld", L(B), L(HW), L(C)

void hb_ops_spatial_mean_fwd(hb_ops *o, const hb_tensor *s, const hb_tensor *x, int64_t B, int64_t HW, int64_t C) {
    BEGIN("spatial_mean_fwd");
    ARG(B >= 0 && HW > 0 && C > 0, "sizes must be positive");
    NEED(s, M2(B, C), FLT);
    NEED(x, M3(B, HW, C), FLT);
    NOALIAS(s, M2(B, C), x, M3(B, HW, C));
    if (failed(c, SE_SHAPE)) return;
    RUN(spatial_mean_fwd, s, x, B, HW, C);
}

void hb_ops_spatial_mean_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_s, int64_t B, int64_t HW, int64_t C,
                             int accumulate) {
    BEGIN("spatial_mean_bwd");
    ARG(B >= 0 && HW > 0 && C > 0, "sizes must be positive");
    NEED(d_x, M3(B, HW, C), FLT);
    NEED(d_s, M2(B, C), FLT);
    NOALIAS(d_x, M3(B, HW, C), d_s, M2(B, C));
    if (failed(c, SE_SHAPE)) return;
    RUN(spatial_mean_bwd, d_x, d_s, B, HW, C, accumulate);
}

void hb_ops_se_gate_fwd(hb_ops *o, const hb_tensor *y, const hb_tensor *x, const hb_tensor *u, int64_t B, int64_t HW,
                        int64_t C) {
    BEGIN("se_gate_fwd");
    ARG(B >= 0 && HW > 0 && C > 0, "sizes must be positive");
    NEED(y, M3(B, HW, C), FLT);
    NEED(x, M3(B, HW, C), FLT);
    NEED(u, M2(B, C), FLT);
    NOALIAS(y, M3(B, HW, C), u, M2(B, C));
    if (failed(c, SE_SHAPE)) return;
    RUN(se_gate_fwd, y, x, u, B, HW, C);
}

void hb_ops_se_gate_bwd(hb_ops *o, const hb_tensor *d_x, const hb_tensor *d_u, const hb_tensor *d_y,
                        const hb_tensor *x, const hb_tensor *u, int64_t B, int64_t HW, int64_t C) {
    BEGIN("se_gate_bwd");
    ARG(B >= 0 && HW > 0 && C > 0, "sizes must be positive");
    OPT(d_x, M3(B, HW, C), FLT);
    OPT(d_u, M2(B, C), FLT);
    NEED(d_y, M3(B, HW, C), FLT);
    NEED(x, M3(B, HW, C), FLT);
    NEED(u, M2(B, C), FLT);
    NOALIAS(d_x, M3(B, HW, C), x, M3(B, HW, C));
    NOALIAS(d_u, M2(B, C), d_y, M3(B, HW, C));
    NOALIAS(d_u, M2(B, C), x, M3(B, HW, C));
    if (failed(c, SE_SHAPE)) return;
    if (d_x || d_u) RUN(se_gate_bwd, d_x, d_u, d_y, x, u, B, HW, C);
}

/* ---------------------------------------------------------------------------------------------------------------
 * Loss and optimizer
 * ------------------------------------------------------------------------------------------------------------- */
void hb_ops_xent_fwd(hb_ops *o, const hb_tensor *losses, const hb_tensor *logits, const hb_tensor *targets,
                     int64_t rows, int64_t V) {
    BEGIN("xent_fwd");
    ARG(rows >= 0 && V > 0, "sizes must be positive");
    NEED(losses, rows, F32);
    NEED(logits, M2(rows, V), FLT);
    NEED(targets, rows, I32);
    NOALIAS(losses, rows, logits, M2(rows, V));
    if (failed(c, "rows=%lld V=%lld", L(rows), L(V))) return;
    RUN(xent, NULL, losses, logits, targets, rows, V, 0.0f);
}

void hb_ops_xent_fwd_bwd(hb_ops *o, const hb_tensor *d_logits, const hb_tensor *losses, const hb_tensor *logits,
                         const hb_tensor *targets, int64_t rows, int64_t V, float scale) {
    BEGIN("xent_fwd_bwd");
    ARG(rows >= 0 && V > 0, "sizes must be positive");
    NEED(d_logits, M2(rows, V), FLT);
    NEED(losses, rows, F32);
    NEED(logits, M2(rows, V), FLT);
    NEED(targets, rows, I32);
    NOALIAS(losses, rows, logits, M2(rows, V));
    NOALIAS(losses, rows, d_logits, M2(rows, V));
    if (d_logits && logits && !(d_logits->arena == logits->arena && d_logits->byte_off == logits->byte_off))
        NOALIAS(d_logits, M2(rows, V), logits, M2(rows, V)); /* in place, or disjoint */
    if (failed(c, "rows=%lld V=%lld scale=%g", L(rows), L(V), (double)scale)) return;
    RUN(xent, d_logits, losses, logits, targets, rows, V, scale);
}

int hb_ops_grad_norm(hb_ops *o, const hb_tensor *const *grads, int n_grads, double *norm, hb_err *err) {
    *norm = NAN;
    if (!o->failed) {
        chk c_ = {o, "grad_norm", 0, ""};
        chk *c = &c_;
        arg(c, n_grads >= 0 && (n_grads == 0 || grads), "no gradient table");
        for (int i = 0; i < n_grads && !c->bad; i++) need(c, "grad", grads[i], 0, FLT, 0);
        if (!failed(c, "n_grads=%d", n_grads)) {
            double ss = 0;
            if (n_grads) o->vt->grad_norm_sq(o, grads, n_grads, &ss);
            *norm = sqrt(ss);
        }
    }
    return hb_ops_sync(o, err);
}

void hb_ops_adamw(hb_ops *o, const hb_adamw_slot *slots, int n_slots, const hb_adamw_hparams *hp) {
    BEGIN("adamw");
    ARG(n_slots >= 0 && (n_slots == 0 || slots) && hp, "no slot table or hyper-parameters");
    if (hp) {
        ARG(hp->step >= 1, "step must be >= 1 (got %lld)", L(hp->step));
        ARG(hp->beta1 >= 0 && hp->beta1 < 1 && hp->beta2 >= 0 && hp->beta2 < 1, "betas must be in [0, 1)");
        ARG(hp->eps > 0 && hp->lr >= 0 && hp->weight_decay >= 0, "lr, eps and weight_decay must be >= 0 (eps > 0)");
    }
    for (int i = 0; i < n_slots && !c->bad; i++) {
        const hb_adamw_slot *s = &slots[i];
        int64_t n = s->param ? s->param->n : 0;
        need(c, "param", s->param, 0, FLT, 0);
        need(c, "grad", s->grad, n, FLT, 0);
        need(c, "m", s->m, n, F32, 0);
        need(c, "v", s->v, n, F32, 0);
        need(c, "master", s->master, n, F32, 1);
        noalias(c, "param", s->param, n, "grad", s->grad, n);
        noalias(c, "m", s->m, n, "v", s->v, n);
        if (c->bad) {
            char m2[640];
            snprintf(m2, sizeof m2, "slot %d ('%s'): %s", i, s->param ? s->param->name : "", c->msg);
            memcpy(c->msg, m2, sizeof m2);
        }
    }
    if (failed(c, "n_slots=%d step=%lld", n_slots, hp ? L(hp->step) : 0LL)) return;
    if (n_slots) RUN(adamw, slots, n_slots, hp);
}

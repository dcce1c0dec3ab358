/* model/trainer_internal.h — what the trainer's sources share (not a public API): the optimizer state, the run
 * state a checkpoint records, and the checkpoint and log helpers.
 *
 * Dependencies:
 *   model/trainer.h    the configuration
 *   model/model.h      hb_model, hb_param
 *   kernels/ops.h      hb_tensor, hb_adamw_slot
 *   core/core.h        hb_err, hb_buf
 */
#ifndef HB_TRAINER_INTERNAL_H
#define HB_TRAINER_INTERNAL_H

#include "kernels/ops.h"
#include "model/model.h"
#include "model/trainer.h"

/* ---- optimizer state (trainer_optim.c) ----
 * One F32 arena "optim" holds the AdamW moments of every trained group as flat tensors laid out like the group's
 * weights; each trained parameter is one AdamW slot over views of the weights, gradient, m and v. */
typedef struct {
    hb_ops *ops;
    hb_ops_arena *arena;
    hb_tensor m[3], v[3];       /* per group (vision, projector, LM); arena NULL when not trained */
    int n_slots;
    hb_adamw_slot *slots;
    const hb_param **sp;        /* the parameter of each slot */
    hb_tensor *views;           /* 2 per slot: m, v */
    hb_tensor gflat[3];         /* flat gradient tensor per group */
    const hb_tensor *grads[3];  /* those of the trained groups (grad norm) */
    int n_grads;
    int64_t t;                  /* AdamW updates applied (bias-correction step of the next update is t + 1) */
    int64_t numel;              /* trained parameters */
} hb_optim;

int hb_optim_init(hb_optim *o, hb_model *m, hb_err *err);
void hb_optim_free(hb_optim *o);
int64_t hb_optim_bytes(const hb_optim *o);

/* ---- run state (what state.json records) ---- */
typedef struct {
    int64_t step;          /* optimizer steps done */
    int64_t adam_t;        /* AdamW updates applied (step minus skipped steps) */
    int64_t skipped;
    int64_t tokens, supervised; /* seen so far */
    double elapsed;        /* training seconds so far */
    char cursor[64];       /* plan position of the next step */
    char plan_hash[17];
    int64_t global_batch;
    int stage;             /* 0 pt, 1 ft */
    double last_loss;
} hb_run_state;

/* ---- checkpoints (trainer_ckpt.c) ----
 * <run_dir>/checkpoints/step-NNNNNNNN/{config.json, model.safetensors, optimizer.safetensors, state.json}, written
 * in a temporary directory and renamed; `latest` names the newest. */
char *hb_ckpt_dir(const char *run_dir);                     /* <run_dir>/checkpoints (malloc'd) */
/* Writes the checkpoint of st.step; path receives its directory. Removes checkpoints beyond keep afterwards. */
int hb_ckpt_save(const hb_trainer_cfg *c, hb_model *m, const hb_optim *o, const hb_run_state *st, char *path,
                 size_t cap, hb_err *err);
/* The newest complete checkpoint of a run (via `latest`, else the highest step-* with a state.json); HB_ENOTFOUND
 * when there is none. */
int hb_ckpt_latest(const char *run_dir, char *path, size_t cap, hb_err *err);
/* Reads and checks state.json and the files it lists (size and XXH3-64). */
int hb_ckpt_read_state(const char *dir, hb_run_state *st, cJSON **config, hb_err *err);
/* Loads the AdamW moments of every trained parameter from dir/optimizer.safetensors. */
int hb_ckpt_load_optim(const char *dir, hb_optim *o, hb_err *err);
/* Lists how two model configs differ ("text_config.hidden_size: 32 vs 64; ..."); empty when equal. */
void hb_ckpt_config_diff(const hb_model_cfg *a, const hb_model_cfg *b, hb_buf *out);

/* ---- logs (trainer_log.c) ---- */
typedef struct {
    int64_t step;
    double loss, lr, grad_norm, clip_coef;
    int skipped;
    int64_t tokens, supervised, sequences, images, micro_batches, truncated;
    double step_s, tokens_per_s, elapsed_s;
    const char *cursor;
} hb_tlog_step_rec;

typedef struct {
    char *steps_path, *events_path, *plot_path;
    char title[256];
    FILE *steps, *events;
    int64_t n, cap;              /* history (allocated for every step of the run up front) */
    double *x, *loss, *lr;
    double *px, *ploss, *plr;    /* plot points */
    hb_buf line;
} hb_tlog;

/* Opens <run_dir>/train.jsonl keeping the records of steps 1..keep_through (0: none; a resumed run re-logs the
 * steps after its checkpoint) and <run_dir>/events.jsonl for appending. capacity: steps of the whole run. */
int hb_tlog_open(hb_tlog *l, const char *run_dir, int64_t keep_through, int64_t capacity, const char *title,
                 hb_err *err);
void hb_tlog_close(hb_tlog *l);
int hb_tlog_step(hb_tlog *l, const hb_tlog_step_rec *r, hb_err *err);
int hb_tlog_event(hb_tlog *l, const char *json_object, hb_err *err);
int hb_tlog_plot(hb_tlog *l, hb_err *err); /* <run_dir>/loss.svg */
void hb_tlog_progress(FILE *out, const hb_tlog_step_rec *r, int64_t total, double eta_s);

/* Test hook (docs/training.md §Testing): HB_TRAIN_FAULT="kill-after-step:N" or "kill-in-checkpoint:N" makes the
 * process kill itself with SIGKILL there. */
void hb_trainer_fault(const char *where, int64_t step);

#endif

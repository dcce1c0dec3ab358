/* hb-train: the Honeybee trainer's command line. A thin dispatcher: each subcommand parses its options and calls
 * the library (model/tools.h).
 *   hb-train init  (--preset NAME | --config FILE) -o DIR [--clip PATH] [--llama PATH] [--seed N] [--dtype f32|bf16]
 *                  [--shard-size MB]
 *   hb-train debug --checkpoint DIR --stage pt|ft --batch IN.safetensors --out OUT.safetensors
 *   hb-train bench (--preset NAME | --config FILE) [--stage pt|ft] [--batch-size B] [--seq T] [--images-per-seq K]
 *                  [--steps N] [--seed N]      forward+backward throughput on a random batch
 *   hb-train train [--config FILE.yaml] [--FIELD VALUE ...] [--resume [CKPT]] [--until STEP]
 *                  train on a mix plan (model/trainer.h, docs/training.md); --help-config lists the fields;
 *                  SIGINT/SIGTERM finish the current step, write a checkpoint and exit 0
 * Common options: --threads N (CPU backend threads; default HB_THREADS, else all cores), --backend cpu.
 * Exit status: 0 ok, 1 failure (the error names the file and the reason), 2 usage error.
 *
 * Dependencies:
 *   core/core.h      hb_err, hb_buf, hb_parse_i64
 *   kernels/ops.h    hb_ops_open / hb_ops_close (the backend)
 *   model/tools.h    hb_train_init, hb_train_debug, hb_train_bench
 *   model/model.h    hb_stage_parse (via tools.h)
 *   model/trainer.h  hb_trainer_* (the train subcommand)
 *   <signal.h>       SIGINT/SIGTERM request a checkpoint and a clean exit */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/ops.h"
#include "model/config.h"
#include "model/tools.h"
#include "model/trainer.h"

static const char *USAGE =
    "usage: hb-train init (--preset NAME | --config FILE) -o DIR [--clip PATH] [--llama PATH] [--seed N]\n"
    "                     [--dtype f32|bf16] [--shard-size MB]\n"
    "       hb-train debug --checkpoint DIR --stage pt|ft --batch IN.safetensors --out OUT.safetensors\n"
    "       hb-train bench (--preset NAME | --config FILE) [--stage pt|ft] [--batch-size B] [--seq T]\n"
    "                      [--images-per-seq K] [--steps N] [--seed N]\n"
    "       hb-train train [--config FILE.yaml] [--FIELD VALUE ...] [--resume [CKPT]] [--until STEP]\n"
    "                      (--help-config lists the fields, e.g. --optim.lr 3e-4 --batch.micro 4)\n"
    "common options: --threads N  --backend cpu\n"
    "presets: tiny, small, 7b-m144, 7b-m256, 13b-m256, 13b-m576\n";

static int usage(const char *why) {
    if (why) fprintf(stderr, "hb-train: %s\n", why);
    fputs(USAGE, stderr);
    return 2;
}

static int fail(const hb_err *e) {
    char buf[2048];
    fprintf(stderr, "hb-train: %s\n", hb_err_format(e, buf, sizeof buf));
    return 1;
}

/* Options shared by every subcommand; returns 1 when argv[*i] was one of them. */
typedef struct {
    int threads;
    const char *backend;
} common_opts;

static int common(int argc, char **argv, int *i, common_opts *c, int *bad) {
    if (!strcmp(argv[*i], "--threads") && *i + 1 < argc) {
        long long v;
        if (hb_parse_i64(argv[++*i], &v) || v < 1 || v > 4096) *bad = 1;
        c->threads = (int)v;
        return 1;
    }
    if (!strcmp(argv[*i], "--backend") && *i + 1 < argc) {
        c->backend = argv[++*i];
        return 1;
    }
    return 0;
}

static hb_ops *open_ops(const common_opts *c, hb_err *err) {
    hb_ops_opts oo = {.threads = c->threads};
    return hb_ops_open(c->backend ? c->backend : "cpu", &oo, err);
}

static int cmd_init(int argc, char **argv) {
    hb_init_opts o = {.dtype = HB_ST_F32, .seed = 42};
    common_opts c = {0};
    int bad = 0;
    for (int i = 2; i < argc && !bad; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        if (common(argc, argv, &i, &c, &bad)) continue;
        if (!v) return usage("missing value after the last option");
        i++;
        if (!strcmp(a, "--preset")) o.preset = v;
        else if (!strcmp(a, "--config")) o.config = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) o.out_dir = v;
        else if (!strcmp(a, "--clip")) o.clip = v;
        else if (!strcmp(a, "--llama")) o.llama = v;
        else if (!strcmp(a, "--seed") && !hb_parse_i64(v, &n) && n >= 0) o.seed = (uint64_t)n;
        else if (!strcmp(a, "--dtype") && (!strcmp(v, "f32") || !strcmp(v, "bf16")))
            o.dtype = v[0] == 'b' ? HB_ST_BF16 : HB_ST_F32;
        else if (!strcmp(a, "--shard-size") && !hb_parse_i64(v, &n) && n > 0) o.max_shard_bytes = (uint64_t)n << 20;
        else bad = 1;
    }
    if (bad) return usage("bad option or value");
    if (!o.out_dir || (!o.preset == !o.config)) return usage("init needs -o DIR and one of --preset or --config");
    hb_err err;
    hb_err_clear(&err);
    hb_ops *ops = open_ops(&c, &err);
    if (!ops) return fail(&err);
    hb_buf sum = {0};
    int rc = hb_train_init(ops, &o, &sum, &err);
    hb_ops_close(ops);
    if (rc) {
        hb_buf_free(&sum);
        return fail(&err);
    }
    fputs(hb_buf_cstr(&sum), stdout);
    hb_buf_free(&sum);
    return 0;
}

static int cmd_debug(int argc, char **argv) {
    const char *ckpt = NULL, *stage_s = NULL, *batch = NULL, *out = NULL;
    common_opts c = {0};
    int bad = 0;
    for (int i = 2; i < argc && !bad; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (common(argc, argv, &i, &c, &bad)) continue;
        if (!v) return usage("missing value after the last option");
        i++;
        if (!strcmp(a, "--checkpoint")) ckpt = v;
        else if (!strcmp(a, "--stage")) stage_s = v;
        else if (!strcmp(a, "--batch")) batch = v;
        else if (!strcmp(a, "--out")) out = v;
        else bad = 1;
    }
    if (bad || !ckpt || !stage_s || !batch || !out)
        return usage("debug needs --checkpoint, --stage, --batch and --out");
    hb_err err;
    hb_err_clear(&err);
    hb_stage stage;
    if (hb_stage_parse(stage_s, &stage, &err)) return usage(err.reason);
    hb_ops *ops = open_ops(&c, &err);
    if (!ops) return fail(&err);
    hb_buf sum = {0};
    int rc = hb_train_debug(ops, ckpt, stage, batch, out, &sum, &err);
    hb_ops_close(ops);
    if (rc) {
        hb_buf_free(&sum);
        return fail(&err);
    }
    fputs(hb_buf_cstr(&sum), stdout);
    hb_buf_free(&sum);
    return 0;
}

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

static void help_config(void) {
    int n;
    const hb_trainer_field *f = hb_trainer_cfg_fields(&n);
    hb_trainer_cfg d;
    hb_trainer_cfg_defaults(&d);
    for (int i = 0; i < n; i++) {
        hb_buf v = {0};
        hb_trainer_cfg_get(&d, f[i].name, &v);
        printf("  --%-20s %s%s%s%s  [default: %s]\n", f[i].name, f[i].doc, f[i].choices ? " (" : "",
               f[i].choices ? f[i].choices : "", f[i].choices ? ")" : "", hb_buf_cstr(&v));
        hb_buf_free(&v);
    }
}

/* hb-train train: the config file first, then every --FIELD VALUE in order (the command line wins). */
static int cmd_train(int argc, char **argv) {
    hb_trainer_cfg c;
    hb_trainer_cfg_defaults(&c);
    hb_trainer_opts o = {.progress = stdout, .interrupt = &interrupted};
    hb_err err;
    hb_err_clear(&err);
    const char *config = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help-config")) {
            help_config();
            return 0;
        }
        if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
    }
    if (config && hb_trainer_cfg_load(&c, config, &err)) return fail(&err);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--config")) {
            i++;
        } else if (!strcmp(a, "--resume")) {
            o.resume = v && strncmp(v, "--", 2) ? argv[++i] : "";
        } else if (!strcmp(a, "--until")) {
            long long n;
            if (!v || hb_parse_i64(v, &n) || n < 1) return usage("--until needs a step number >= 1");
            o.until = n;
            i++;
        } else if (!strncmp(a, "--", 2) && a[2]) {
            if (!v) return usage("missing value after the last option");
            if (hb_trainer_cfg_set(&c, a + 2, v, &err)) return usage(err.reason);
            i++;
        } else {
            return usage("train takes --config FILE and --FIELD VALUE options");
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    hb_trainer_result r;
    if (hb_trainer_run(&c, &o, &r, &err)) return fail(&err);
    char *plot = hb_path_join(c.run_dir, "loss.svg");
    printf("%s after step %lld (loss %.4f); %lld step(s) skipped\n", r.interrupted ? "stopped" : "finished",
           (long long)r.last_step, r.final_loss, (long long)r.skipped);
    if (r.last_checkpoint[0]) printf("last checkpoint: %s\n", r.last_checkpoint);
    printf("loss plot: %s\n", plot);
    free(plot);
    return 0;
}

static int cmd_bench(int argc, char **argv) {
    hb_bench_opts o = {.stage = HB_STAGE_FT, .batch = 4, .seq = 256, .images_per_seq = 0, .steps = 3, .seed = 1};
    common_opts c = {0};
    int bad = 0;
    for (int i = 2; i < argc && !bad; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n = 0;
        if (common(argc, argv, &i, &c, &bad)) continue;
        if (!v) return usage("missing value after the last option");
        i++;
        int num = !hb_parse_i64(v, &n) && n >= 0;
        if (!strcmp(a, "--preset")) o.preset = v;
        else if (!strcmp(a, "--config")) o.config = v;
        else if (!strcmp(a, "--stage")) bad = hb_stage_parse(v, &o.stage, NULL) != 0;
        else if (!strcmp(a, "--batch-size") && num) o.batch = n;
        else if (!strcmp(a, "--seq") && num) o.seq = n;
        else if (!strcmp(a, "--images-per-seq") && num) o.images_per_seq = n;
        else if (!strcmp(a, "--steps") && num && n < 1000000) o.steps = (int)n;
        else if (!strcmp(a, "--seed") && num) o.seed = (uint64_t)n;
        else bad = 1;
    }
    if (bad || !o.preset == !o.config) return usage("bench needs one of --preset or --config, and valid numbers");
    hb_err err;
    hb_err_clear(&err);
    hb_ops *ops = open_ops(&c, &err);
    if (!ops) return fail(&err);
    hb_bench_result r;
    int rc = hb_train_bench(ops, &o, &r, &err);
    int threads = hb_ops_threads(ops);
    hb_ops_close(ops);
    if (rc) return fail(&err);
    printf("tokens/s %.1f  best-step tokens/s %.1f  tokens/cpu-s %.1f  ms/step %.1f  tokens/step %lld  threads %d  "
           "loss %.4f\n", r.tokens_per_s, r.best_tokens_per_s, r.tokens_per_cpu_s, r.ms_per_step,
           (long long)r.tokens_per_step, threads, r.loss);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "init")) return cmd_init(argc, argv);
    if (!strcmp(argv[1], "debug")) return cmd_debug(argc, argv);
    if (!strcmp(argv[1], "train")) return cmd_train(argc, argv);
    if (!strcmp(argv[1], "bench")) return cmd_bench(argc, argv);
    return usage("unknown subcommand");
}

/* Fuzz the checkpoint state reader (model/trainer_ckpt.c, hb_ckpt_read_state: what `hb-train train --resume`
 * trusts) on arbitrary state.json bytes, in a checkpoint directory holding one small file it may list.
 * Seeds: tests/fuzz/corpus/ckpt_state (state.json files of a real checkpoint, listing that file). */
#include "fuzz.h"
#include "model/config.h"
#include "model/trainer.h"
#include "model/trainer_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *dir = hb_path_join(fz_dir(), "step-00000001");
    hb_mkdir_p(dir, NULL);
    char *p = hb_path_join(dir, "config.json");
    FILE *f = fopen(p, "wb");
    fputs("{\"a\": 1}\n", f); /* 9 bytes, XXH3-64 in the seeds */
    fclose(f);
    free(p);
    p = hb_path_join(dir, "state.json");
    f = fopen(p, "wb");
    if (size) fwrite(data, 1, size, f);
    fclose(f);
    free(p);
    hb_run_state st;
    cJSON *cfg = NULL;
    hb_err e;
    hb_err_clear(&e);
    int rc = hb_ckpt_read_state(dir, &st, &cfg, &e);
    if (rc) {
        fz_check_err(rc, &e);
    } else {
        FZ_ASSERT(st.step >= 0 && st.global_batch >= 1, "accepted step %lld, batch %lld", (long long)st.step,
                  (long long)st.global_batch);
        cJSON_Delete(cfg);
    }
    free(dir);
    return 0;
}

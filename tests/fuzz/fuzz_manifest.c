/* Fuzz manifest.json loading (lib/shard/manifest.c) and the shard listing of an output directory
 * (hb_shard_paths) on arbitrary manifest bytes. A manifest that loads must write back and load to the same entries
 * (names may change only where the file is not valid UTF-8: invalid bytes are written as \u00XX).
 * Seeds: tests/fuzz/corpus/manifest (manifests written by hb-prep). */
#include "fuzz.h"
#include "shard/shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *dir = hb_path_join(fz_dir(), "m");
    hb_mkdir_p(dir, NULL);
    char *path = hb_path_join(dir, "manifest.json");
    FILE *f = fopen(path, "wb");
    if (size) fwrite(data, 1, size, f);
    fclose(f);
    hb_err e;
    hb_err_clear(&e);
    hb_manifest m = {0};
    int rc = hb_manifest_load(&m, dir, &e);
    if (rc) {
        fz_check_err(rc, &e);
    } else {
        char *dir2 = hb_path_join(fz_dir(), "m2");
        hb_mkdir_p(dir2, NULL);
        hb_err_clear(&e);
        rc = hb_manifest_write(&m, dir2, &e);
        FZ_ASSERT(rc == 0, "a loaded manifest does not write: %s", e.reason);
        hb_manifest m2 = {0};
        rc = hb_manifest_load(&m2, dir2, &e);
        FZ_ASSERT(rc == 0, "a written manifest does not load: %s", e.reason);
        FZ_ASSERT(m2.n_shards == m.n_shards, "shard count changed");
        for (size_t i = 0; i < m.n_shards; i++) {
            FZ_ASSERT((!strcmp(m.shards[i].path, m2.shards[i].path) || !fz_valid_utf8(data, size)) &&
                          m.shards[i].samples == m2.shards[i].samples &&
                          m.shards[i].xxh3 == m2.shards[i].xxh3,
                      "shard %zu changed", i);
        }
        hb_manifest_free(&m2);
        free(dir2);
    }
    hb_manifest_free(&m);
    char **paths;
    size_t n;
    hb_err_clear(&e);
    rc = hb_shard_paths(dir, &paths, &n, &e);
    if (rc) fz_check_err(rc, &e);
    else hb_shard_paths_free(paths, n);
    free(path);
    free(dir);
    return 0;
}

/* Fuzz the safe pickle reader (lib/sources/pickle.c) on arbitrary bytes: a tree or an error, never a call.
 * Seeds: tests/fuzz/corpus/pickle (tests/fixtures/pickle and examples/refcoco). */
#include "fuzz.h"
#include "sources/sources.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hb_err e;
    hb_err_clear(&e);
    cJSON *j = NULL;
    int rc = hb_pickle_parse(data, size, "fuzz.p", &j, &e);
    if (rc) {
        fz_check_err(rc, &e);
        return 0;
    }
    char *txt = cJSON_PrintUnformatted(j);
    cJSON_free(txt);
    cJSON_Delete(j);
    return 0;
}

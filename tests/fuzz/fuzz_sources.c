/* Fuzz every dataset converter (lib/sources, through hb_src_run as the pipeline calls it) on arbitrary raw-file
 * bytes. Byte 0 picks the converter (registry order), byte 1 the file role that gets the remaining bytes; the other
 * roles get the converter's example file from examples/ (run from the repository root or set HB_ROOT). Every item a
 * converter emits must be complete (key, file, fields or turns with known roles), every reject must name its file
 * and a reason; hard errors must carry a reason. Seeds: tests/fuzz/corpus/sources (the example files, prefixed with
 * their converter and role bytes). */
#include "fuzz.h"
#include "recipe/recipe.h"
#include "sources/sources.h"

/* The example file of each (converter, role) and the options the converter needs to read all its roles. */
static const struct {
    const char *conv, *role, *file, *opts;
} EXAMPLES[] = {
    {"vqav2", "questions", "examples/vqav2/v2_OpenEnded_mscoco_val2014_questions.json", ""},
    {"vqav2", "annotations", "examples/vqav2/v2_mscoco_val2014_annotations.json", ""},
    {"gqa", "questions", "examples/gqa/train_balanced_questions.json", ""},
    {"ocrvqa", "dataset", "examples/ocrvqa/dataset.json", ""},
    {"vsr", "data", "examples/vsr/train.jsonl", ""},
    {"scienceqa", "problems", "examples/scienceqa/problems.json", ", split: train"},
    {"scienceqa", "pid_splits", "examples/scienceqa/pid_splits.json", ", split: train"},
    {"scienceqa-llava", "data", "examples/scienceqa/llava_train_QCM-LEPA.json", ""},
    {"aokvqa", "data", "examples/aokvqa/aokvqa_v1p0_train.json", ""},
    {"refcoco-mdetr", "data", "examples/refcoco/finetune_refcocog_train.json", ""},
    {"refcoco-refer", "refs", "examples/refcoco/refs(unc).p", ", split: train"},
    {"refcoco-refer", "instances", "examples/refcoco/instances.json", ", split: train"},
    {"vg-regions", "regions", "examples/vg/region_descriptions.json", ""},
    {"vg-regions", "image_data", "examples/vg/image_data.json", ""},
    {"vg-qa", "data", "examples/vg/question_answers.json", ", image_layout: url"},
    {"vg-qa", "image_data", "examples/vg/image_data.json", ", image_layout: url"},
    {"llava-instruct", "data", "examples/llava/complex_reasoning_77k.json", ""},
    {"llava-pretrain", "data", "examples/llava/blip_laion_cc_sbu_558k.json", ""},
    {"sharegpt", "data", "examples/sharegpt/llava_v1_5_sharegpt40k.json", ""},
    {"webdataset", "shards", "examples/webdataset/00000.tar", ""},
};

static int emit(void *u, const hb_src_item *it, hb_err *err) {
    (void)u, (void)err;
    FZ_ASSERT(it->key && it->file, "item without key or file");
    FZ_ASSERT(it->record >= 0, "item without a record position");
    FZ_ASSERT(!it->image_data || it->image_len > 0 || it->image, "image data without a length");
    for (uint32_t i = 0; i < it->ex.n_fields; i++)
        FZ_ASSERT(it->ex.fields[i].key && it->ex.fields[i].value, "field %u incomplete", i);
    for (uint32_t i = 0; i < it->ex.n_options; i++) FZ_ASSERT(it->ex.options[i], "option %u missing", i);
    if (it->ex.n_options) FZ_ASSERT(it->ex.answer_idx >= 0 && (uint32_t)it->ex.answer_idx < it->ex.n_options,
                                    "answer %d of %u options", it->ex.answer_idx, it->ex.n_options);
    for (uint32_t i = 0; i < it->n_conv; i++) {
        FZ_ASSERT(it->conv[i].role == HB_ROLE_HUMAN || it->conv[i].role == HB_ROLE_AI, "turn %u role %u", i, it->conv[i].role);
        FZ_ASSERT(it->conv[i].text || !it->conv[i].len, "turn %u without text", i);
        volatile char c = it->conv[i].len ? it->conv[i].text[it->conv[i].len - 1] : 0; /* the text is as long as said */
        (void)c;
    }
    if (it->key) (void)strlen(it->key);
    if (it->image) (void)strlen(it->image);
    if (it->group) (void)strlen(it->group);
    return 0;
}

static int reject(void *u, const char *file, int64_t record, int64_t offset, const char *reason, hb_err *err) {
    (void)u, (void)record, (void)offset, (void)err;
    FZ_ASSERT(file && reason && reason[0], "reject without file or reason");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    const hb_converter *conv = hb_converter_at(data[0] % hb_converter_count());
    size_t nroles = 0;
    while (conv->file_roles && conv->file_roles[nroles]) nroles++;
    if (!nroles) return 0;
    const char *fuzzed = conv->file_roles[data[1] % nroles];
    char *fpath = fz_write("raw.bin", data + 2, size - 2);
    hb_buf y = {0};
    hb_buf_printf(&y, "sources:\n  s: {dataset: %s, files: {", conv->name);
    const char *opts = "";
    for (size_t r = 0; r < nroles; r++) {
        const char *role = conv->file_roles[r];
        char *p = NULL;
        for (size_t k = 0; k < sizeof EXAMPLES / sizeof *EXAMPLES; k++)
            if (!strcmp(EXAMPLES[k].conv, conv->name) && !strcmp(EXAMPLES[k].role, role)) {
                p = fz_repo(EXAMPLES[k].file);
                opts = EXAMPLES[k].opts;
            }
        if (!strcmp(role, fuzzed)) free(p), p = hb_xstrdup(fpath);
        if (!p) continue;
        hb_buf_printf(&y, "%s%s: \"%s\"", r ? ", " : "", role, p);
        free(p);
    }
    hb_buf_printf(&y, "}%s}\n", opts);
    hb_recipe rcp;
    hb_err e;
    hb_err_clear(&e);
    char *rpath = hb_path_join(fz_dir(), "recipe.yaml");
    int rc = hb_recipe_parse(&rcp, (const char *)y.data, y.len, rpath, &e);
    FZ_ASSERT(rc == 0, "harness recipe: %s\n%s", e.reason, hb_buf_cstr(&y));
    hb_src_sink sink = {.emit = emit, .reject = reject};
    hb_src_ctx ctx;
    hb_err_clear(&e);
    rc = hb_src_run(&rcp, hb_recipe_find(&rcp, "s"), &sink, &ctx, &e);
    if (rc) fz_check_err(rc, &e);
    hb_recipe_free(&rcp);
    hb_buf_free(&y);
    free(rpath);
    free(fpath);
    return 0;
}

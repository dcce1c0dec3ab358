/* The converter registry: the recipe's `dataset:` name -> converter, plus Honeybee's config names as aliases
 * (vqa, sqa, refcoco, refcocop, refcocog, vgloc, llava150k, vicuna40k, coyo100m, blip) and a few common names
 * (coyo, captions, refcocoplus, vg, llava), so a source named like Honeybee's dataset needs no `dataset:` line.
 * Dependencies: sources.h (hb_converter); one definition per converter file in lib/sources. */
#include "sources.h"

#include <string.h>

extern const hb_converter hb_conv_vqav2, hb_conv_gqa, hb_conv_ocrvqa, hb_conv_vsr, hb_conv_scienceqa,
    hb_conv_scienceqa_llava, hb_conv_aokvqa, hb_conv_refcoco_mdetr, hb_conv_refcoco_refer, hb_conv_vg_regions,
    hb_conv_vg_qa, hb_conv_llava_instruct, hb_conv_llava_pretrain, hb_conv_sharegpt, hb_conv_webdataset;

static const hb_converter *const ALL[] = {
    &hb_conv_vqav2,         &hb_conv_gqa,           &hb_conv_ocrvqa,          &hb_conv_vsr,
    &hb_conv_scienceqa,     &hb_conv_scienceqa_llava, &hb_conv_aokvqa,        &hb_conv_refcoco_mdetr,
    &hb_conv_refcoco_refer, &hb_conv_vg_regions,    &hb_conv_vg_qa,           &hb_conv_llava_instruct,
    &hb_conv_llava_pretrain, &hb_conv_sharegpt,     &hb_conv_webdataset,
};

static const struct {
    const char *alias;
    const hb_converter *conv;
} ALIASES[] = {
    {"vqa", &hb_conv_vqav2},         {"sqa", &hb_conv_scienceqa_llava}, {"refcoco", &hb_conv_refcoco_mdetr},
    {"refcocop", &hb_conv_refcoco_mdetr}, {"refcoco+", &hb_conv_refcoco_mdetr}, {"refcocog", &hb_conv_refcoco_mdetr},
    {"vgloc", &hb_conv_vg_regions},  {"vgqa", &hb_conv_vg_qa},          {"llava150k", &hb_conv_llava_instruct},
    {"vicuna40k", &hb_conv_sharegpt}, {"coyo100m", &hb_conv_webdataset}, {"blip", &hb_conv_webdataset},
    {"coyo", &hb_conv_webdataset},   {"captions", &hb_conv_webdataset}, {"refcocoplus", &hb_conv_refcoco_mdetr},
    {"vg", &hb_conv_vg_regions},     {"llava", &hb_conv_llava_instruct},
};

const hb_converter *hb_converter_find(const char *name) {
    for (size_t i = 0; i < sizeof ALL / sizeof *ALL; i++)
        if (!strcmp(ALL[i]->name, name)) return ALL[i];
    for (size_t i = 0; i < sizeof ALIASES / sizeof *ALIASES; i++)
        if (!strcmp(ALIASES[i].alias, name)) return ALIASES[i].conv;
    return NULL;
}

size_t hb_converter_count(void) { return sizeof ALL / sizeof *ALL; }
const hb_converter *hb_converter_at(size_t i) { return i < hb_converter_count() ? ALL[i] : NULL; }

size_t hb_converter_names(const char **out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < hb_converter_count() && n < cap; i++) out[n++] = ALL[i]->name;
    for (size_t i = 0; i < sizeof ALIASES / sizeof *ALIASES && n < cap; i++) out[n++] = ALIASES[i].alias;
    return n;
}

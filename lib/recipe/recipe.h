/* lib/recipe/recipe — a recipe file (docs/recipes.md) loaded into plain structs: the top-level settings, the
 * `sources` to compile (hb-prep) and the raw `mix` section (read by lib/mix).
 *
 * Dependencies:
 *   core/core.h        hb_err, hb_hash64
 *   recipe/yaml.h      hb_yaml_parse, hb_cfg_* typed getters
 *   <cjson/cJSON.h>    the tree the recipe is parsed into (kept alive: sources point into it)
 *
 * Paths inside a recipe are relative to the recipe file's directory; the loader resolves the top-level paths and
 * each source's `images`, and hb_recipe_path resolves the others (the converters' `files`). Converter-specific
 * options stay in the source's mapping (`node`) and are checked by the converter (lib/sources). */
#ifndef HB_RECIPE_H
#define HB_RECIPE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "core/core.h"

#define HB_NTURN_DEFAULT (-1) /* the converter's default (Honeybee's released config) */

typedef struct {
    const char *name;         /* the key under `sources:`; [A-Za-z0-9_.+-], used in sample ids and file names */
    const char *dataset;      /* converter name in the registry (lib/sources); defaults to the source name */
    const cJSON *files;       /* as written: a string, a list of strings or a mapping role -> path (unresolved) */
    char *images;             /* the image root, resolved; NULL when the source has no `images` */
    int no_images;            /* `images: none`: built without images (like --no-images, for this source only) */
    int nturn;                /* examples per sample after grouping by image; 0 = the whole group;
                                 HB_NTURN_DEFAULT = the converter's default */
    const char *dedup;        /* NULL = the converter's default; "none" or the example field to deduplicate on */
    int dedup_normalize;      /* 1 (default): compare after case/whitespace/punctuation folding; 0: exact bytes */
    const char *template_key; /* pattern key override; NULL = the template set's mapping of the source name */
    long long limit;          /* read at most this many raw records; -1 = all */
    const char *image_prefix; /* prepended to every image path of the source ("" when absent) */
    int image_flat;           /* 1: keep only the file name of the converter's image path (flat image folders) */
    const cJSON *node;        /* the source's whole mapping: converter options are read from here */
} hb_recipe_source;

typedef struct {
    char *path;          /* the recipe file as given */
    char *dir;           /* its directory (relative paths are resolved against it) */
    char *name;          /* `name`, default: the file name without extension */
    uint64_t seed;       /* `seed`, default 0 */
    char *tokenizer;     /* resolved `tokenizer` path; NULL when absent */
    char *templates;     /* resolved `templates` path; NULL when absent */
    char *output;        /* resolved `output` directory; NULL when absent */
    int max_length;      /* tokens after BOS (Honeybee FT 1023, PT 1024); default 1023 */
    int visual_tokens;   /* M: placeholder positions per image; default 144 */
    int image_size;      /* preprocessing resolution; default 224 */
    size_t n_sources;
    hb_recipe_source *sources; /* in file order */
    const cJSON *defaults;     /* `defaults:` mapping (nturn, dedup, ... applied to every source), or NULL */
    const cJSON *mix;          /* the raw `mix:` section, or NULL (lib/mix parses it) */
    cJSON *root;               /* the whole parsed file (owns every const cJSON* above) */
    char hash[17];             /* XXH3-64 of the file bytes, hex (the manifest's recipe_hash) */
} hb_recipe;

/* Load and check a recipe: top-level keys and types, source names and the common source keys. Errors name the
 * file and the key path ("recipes/x.yaml: sources.vqav2.nturn: expected an integer"). */
int hb_recipe_load(hb_recipe *r, const char *path, hb_err *err);
/* The same from text in memory; path names the file for errors and relative paths. */
int hb_recipe_parse(hb_recipe *r, const char *text, size_t len, const char *path, hb_err *err);
void hb_recipe_free(hb_recipe *r);

/* Resolve a path written in the recipe: absolute paths stay, relative ones are joined to the recipe's directory.
 * Returns a malloc'd string. */
char *hb_recipe_path(const hb_recipe *r, const char *rel);
/* The source named name, or NULL. */
const hb_recipe_source *hb_recipe_find(const hb_recipe *r, const char *name);

#endif

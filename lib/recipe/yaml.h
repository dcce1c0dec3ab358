/* lib/recipe/yaml — YAML files (recipes, template sets, training configs) loaded into a cJSON tree, plus typed
 * getters whose errors name the file and the key path ("recipes/x.yaml: sources.vqa.nturn: expected an integer").
 *
 * Dependencies:
 *   core/core.h        hb_err
 *   <cjson/cJSON.h>    the tree type
 *   (impl) <yaml.h>    libyaml's event parser
 *
 * YAML support: block and flow mappings/sequences, all scalar styles, anchors and aliases (copied), comments, the
 * first document of a stream. Plain scalars are typed like YAML 1.2's core schema: null/~/empty -> null,
 * true/false -> bool, integers and floats (including .inf/.nan) -> number, everything else -> string; quoted
 * scalars are always strings. Duplicate keys are an error. Limits: nesting at most 1000 deep, and aliases may copy at
 * most 65,536 + 64 nodes per byte of the file in all (a few hundred bytes of nested aliases would otherwise expand to
 * billions of nodes). */
#ifndef HB_YAML_H
#define HB_YAML_H

#include <cjson/cJSON.h>

#include "core/core.h"

/* Parse text (name is used in errors). On a syntax error: HB_EFORMAT with the line in the reason and the byte
 * offset set. */
int hb_yaml_parse(const char *text, size_t len, const char *name, cJSON **out, hb_err *err);
int hb_yaml_load(const char *path, cJSON **out, hb_err *err);

/* Typed getters. `obj` is a mapping; `file` and `path` (the mapping's key path, "" at the top) are for errors.
 * Each returns 0 and sets *out when the key holds the right type; when the key is absent it returns 0 and keeps
 * *out (the caller's default) unless required, in which case it fails; a wrong type always fails. */
int hb_cfg_str(const cJSON *obj, const char *key, int required, const char *file, const char *path, const char **out,
               hb_err *err);
int hb_cfg_int(const cJSON *obj, const char *key, int required, const char *file, const char *path, long long *out,
               hb_err *err);
int hb_cfg_num(const cJSON *obj, const char *key, int required, const char *file, const char *path, double *out,
               hb_err *err);
int hb_cfg_bool(const cJSON *obj, const char *key, int required, const char *file, const char *path, int *out,
                hb_err *err);
/* Fails when obj has a key not in the NULL-terminated list `known` (catches typos in configs). */
int hb_cfg_known_keys(const cJSON *obj, const char *const *known, const char *file, const char *path, hb_err *err);

#endif

/* lib/sources/pickle — a safe reader for Python pickles, as data only (pickle.c).
 *
 * Dependencies:
 *   core/core.h        hb_err, hb_file_read_all
 *   <cjson/cJSON.h>    the tree it builds
 *
 * The reader interprets opcodes on a value stack and builds a cJSON tree. It never imports or calls anything, in
 * either mode:
 *
 * Data mode (hb_pickle_parse, hb_pickle_load; RefCOCO's refs(*).p): protocols 0-5 with dicts, lists, tuples (as
 * arrays), str/unicode/bytes, ints, longs (at most 64 bits), floats, bools and None, plus the memo. GLOBAL,
 * STACK_GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ, NEWOBJ_EX, PERSID, BINPERSID and the extension opcodes are
 * errors naming their byte offset.
 *
 * Object mode (hb_pickle_parse_objects; torch checkpoints' data.pkl): the same, and the opcodes that would import,
 * call or look up objects become inert nodes, which a caller then matches against the few shapes it trusts:
 *   GLOBAL / STACK_GLOBAL   {"global": "module.name"}
 *   REDUCE                  {"reduce": <callable node>, "args": [..]}     (callable(*args) was never called)
 *   NEWOBJ                  {"newobj": <class node>, "args": [..]}
 *   BUILD on a node         adds "state": <state> to that node (BUILD on plain data is an error)
 *   PERSID / BINPERSID      {"persid": <persistent id>}
 *   SETITEM(S) on a node    its "items": {..} (an object's dict items, e.g. an OrderedDict's entries)
 *   APPEND(S) on a node     its "list": [..]
 * INST, OBJ, NEWOBJ_EX and the extension opcodes stay errors. Inert nodes are cJSON objects carrying the
 * HB_PICKLE_NODE bit in their type, so no dict in the data can pass for one; cJSON_Duplicate keeps the bit.
 *
 * Limits in both modes: containers nest at most 1000 deep, memo references (each GET copies) expand to at most
 * 4 × the input size + 65536 nodes, memo indices below 2^26 and at most 1024 more than the bytes read so far
 * (picklers number them as they write objects). Errors are HB_EFORMAT naming `name` and the offset of the failing opcode. */
#ifndef HB_PICKLE_H
#define HB_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/core.h"

#define HB_PICKLE_NODE (1 << 12) /* type bit of inert object-mode nodes */

int hb_pickle_load(const char *path, cJSON **out, hb_err *err);
int hb_pickle_parse(const uint8_t *data, size_t len, const char *name, cJSON **out, hb_err *err);
int hb_pickle_parse_objects(const uint8_t *data, size_t len, const char *name, cJSON **out, hb_err *err);

/* "global", "reduce", "newobj" or "persid" for an inert node; NULL for plain data (or v == NULL). */
const char *hb_pickle_node_kind(const cJSON *v);

#endif

/* lib/json — a streaming splitter for huge JSON documents and JSON Lines files, plus typed field getters for the
 * cJSON tree of one record.
 *
 * Dependencies:
 *   core/core.h        hb_err, hb_buf
 *   <cjson/cJSON.h>    each record is parsed on its own with cJSON
 *
 * The raw dataset files are one JSON document of up to several GB (GQA's train questions, VG's regions, LLaVA's
 * instruct files): a DOM of the whole file would need ~1.6x its size in memory. The splitter reads the file in
 * 1 MiB chunks, walks to the container named by a selector and yields one element (array) or member (object) at a
 * time as raw bytes with its byte offset; the caller parses each with cJSON. Memory is bounded by the largest
 * record plus the read chunk, whatever the file size.
 *
 * The splitter checks the structure it walks (brackets, strings, separators); the bytes of one record are checked
 * by cJSON. A record that cJSON rejects can therefore be skipped and reported while the rest of the file is read;
 * a structural error (unterminated string, mismatched bracket, truncated file) stops the file with HB_EFORMAT and
 * the byte offset. */
#ifndef HB_JSON_H
#define HB_JSON_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "core/core.h"

/* One record: an element of the selected array, a member of the selected object, or one line of a JSONL file. */
typedef struct {
    const char *data; /* the value's bytes, NUL-terminated (not counted in len); valid until the next call */
    size_t len;
    const char *key;  /* object members: the decoded member name (NUL-terminated); NULL for arrays and lines */
    size_t key_len;
    int64_t index;    /* 0-based element / member index; for JSON Lines the 0-based line number */
    int64_t offset;   /* byte offset of the value's first byte in the file */
} hb_jrec;

typedef struct hb_jsplit hb_jsplit;

/* Open a JSON document and walk to the container named by `select`:
 *   ""          the top-level value (an array or an object),
 *   "questions" the value of member "questions" of the top-level object,
 *   "a.b"       member b of member a (members are matched exactly; no escaping of '.').
 * A leading UTF-8 byte-order mark is skipped. Fails with HB_ENOTFOUND when the file or a member is missing and
 * HB_EFORMAT when the selected value is not an array or object. */
int hb_jsplit_open(hb_jsplit **s, const char *path, const char *select, hb_err *err);
/* Open a JSON Lines file: each non-blank line is one record (a trailing '\r' is dropped). */
int hb_jsplit_open_lines(hb_jsplit **s, const char *path, hb_err *err);
/* Next record: returns 0 and sets *rec (rec->data == NULL at the end of the container), or an hb_code with the
 * file and byte offset in err. After an error the splitter cannot continue. */
int hb_jsplit_next(hb_jsplit *s, hb_jrec *rec, hb_err *err);
/* 1 when the selected container was an object (records have keys). */
int hb_jsplit_is_object(const hb_jsplit *s);
/* Bytes consumed so far and the file size (for progress). */
uint64_t hb_jsplit_tell(const hb_jsplit *s);
uint64_t hb_jsplit_size(const hb_jsplit *s);
/* The largest buffer the splitter held (bytes): the memory bound, for tests and stats. */
size_t hb_jsplit_peak(const hb_jsplit *s);
const char *hb_jsplit_path(const hb_jsplit *s);
void hb_jsplit_close(hb_jsplit *s);

/* The value of member `name` of the top-level object of the JSON file at path, parsed (any type), while the other
 * members are skipped without being kept (e.g. VQAv2's "data_subtype" next to its big "questions" array).
 * HB_ENOTFOUND when the member is absent. */
int hb_json_member(const char *path, const char *name, cJSON **out, hb_err *err);

/* Parse one record with cJSON. On failure: HB_EFORMAT naming the file, record index and the byte offset (in the
 * file) where cJSON stopped. path is for the error only. */
int hb_jrec_parse(const hb_jrec *rec, const char *path, cJSON **out, hb_err *err);

/* ---- typed getters over one parsed record (NULL / -1 when absent or of another type) ---- */
const char *hb_jstr(const cJSON *o, const char *key);   /* a string member */
int hb_jint(const cJSON *o, const char *key, long long *out); /* an integral number member; 0 on success */
int hb_jnum(const cJSON *o, const char *key, double *out);    /* any number member; 0 on success */
/* A number or a string member as text: integers print without a decimal point ("458752"); strings as they are.
 * Writes into buf (n bytes) and returns it, or NULL when absent or of another type. */
const char *hb_jid(const cJSON *o, const char *key, char *buf, size_t n);

#endif

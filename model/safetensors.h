/* model/safetensors — read and write HF safetensors files: single files, sharded sets described by a
 * `*.safetensors.index.json`, and directories holding either. Tensor data is memory-mapped, never copied until a
 * caller converts it.
 *
 * Dependencies:
 *   core/core.h        hb_err, hb_afile (atomic writes)
 *   (impl) model/torchbin.h   PyTorch .bin files read into the same set
 *
 * Format (https://github.com/huggingface/safetensors): u64 little-endian header length N, N bytes of a JSON object
 * {"__metadata__": {str: str}, NAME: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}, then the
 * data. Offsets are relative to the start of the data. The reader is as strict as the reference implementation:
 * the tensors must tile the data exactly (sorted by offset, no gap, no overlap, no trailing bytes), each byte
 * range must equal numel × element size, names are unique, the header is at most 100 MB. Every violation is
 * HB_EFORMAT naming the file, the tensor and the byte offset. */
#ifndef HB_SAFETENSORS_H
#define HB_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef enum {
    HB_ST_F32,
    HB_ST_F16,
    HB_ST_BF16,
    HB_ST_F64,
    HB_ST_I64,
    HB_ST_I32,
    HB_ST_I16,
    HB_ST_I8,
    HB_ST_U8,
    HB_ST_BOOL,
    HB_ST_NDTYPES
} hb_st_dtype;

#define HB_ST_MAXDIM 8

typedef struct {
    const char *name;
    hb_st_dtype dtype;
    int ndim;
    int64_t shape[HB_ST_MAXDIM];
    int64_t numel;
    const void *data; /* mapped bytes (little-endian), numel × element size (a strided .bin view: a copy) */
    int file;         /* index into the set's files */
} hb_st_tensor;

typedef struct hb_st hb_st;

/* Open a tensor set. path may be: a `.safetensors` file; a PyTorch `torch.save` zip checkpoint (`pytorch_model*.bin`,
 * told apart by its bytes and read by model/torchbin.h: same tensors, never executed); an index `*.json` (its
 * weight_map names the shard of every tensor; every shard is opened and every listed tensor must be in its shard);
 * or a directory, in which `model.safetensors.index.json`, then `model.safetensors`, then the only
 * `*.safetensors.index.json`, then the only `*.safetensors` is used, and when there is none of them
 * `pytorch_model.bin.index.json`, `pytorch_model.bin`, the only `*.bin.index.json`, the only `*.bin` (not counting
 * training_args.bin). A tensor present in two files is an error. A legacy (torch < 1.6) file is HB_EUNSUPPORTED. */
int hb_st_open(const char *path, hb_st **out, hb_err *err);
void hb_st_close(hb_st *st);

size_t hb_st_count(const hb_st *st);
const hb_st_tensor *hb_st_at(const hb_st *st, size_t i); /* sorted by name */
const hb_st_tensor *hb_st_find(const hb_st *st, const char *name);
const char *hb_st_file(const hb_st *st, int file);     /* path of file i */
const char *hb_st_path(const hb_st *st);               /* what was opened */
/* A "__metadata__" string of the (first) file; NULL when absent. */
const char *hb_st_meta(const hb_st *st, const char *key);

const char *hb_st_dtype_name(hb_st_dtype d); /* "F32", "BF16", ... */
size_t hb_st_dtype_size(hb_st_dtype d);
/* "[4096, 11008]" into buf. */
const char *hb_st_shape_str(int ndim, const int64_t *shape, char *buf, size_t n);

/* Convert a tensor into n floats (n must equal numel): F32, F16, BF16 and F64 are accepted, any other dtype is
 * HB_EFORMAT naming the tensor. */
int hb_st_read_f32(const hb_st *st, const hb_st_tensor *t, float *dst, int64_t n, hb_err *err);
/* Convert an integer tensor (I32, I64, I16, I8, U8) into int32 (values outside int32 are an error). */
int hb_st_read_i32(const hb_st *st, const hb_st_tensor *t, int32_t *dst, int64_t n, hb_err *err);

/* Scalar conversions (round to nearest even; NaN stays NaN). */
float hb_bf16_to_f32(uint16_t h);
uint16_t hb_f32_to_bf16(float f);
float hb_f16_to_f32(uint16_t h);
uint16_t hb_f32_to_f16(float f);

/* ---- writer ----
 * Tensors are added with their bytes (kept by pointer: they must stay valid until save) or with a fill callback
 * that writes exactly numel × element size bytes into a scratch buffer when the file is written (so a big model
 * can be saved one tensor at a time). save writes atomically (hb_afile); names are sorted as the reference writer
 * does; the header is padded with spaces to a multiple of 8 bytes. When max_shard_bytes > 0 and the data exceed it,
 * the tensors are split into `<stem>-0000i-of-0000N.safetensors` shards plus `<stem>.safetensors.index.json`. */
typedef int (*hb_st_fill_fn)(void *ctx, const char *name, void *dst, size_t nbytes, hb_err *err);
typedef struct hb_st_writer hb_st_writer;

hb_st_writer *hb_st_writer_new(void);
void hb_st_writer_free(hb_st_writer *w);
void hb_st_writer_meta(hb_st_writer *w, const char *key, const char *value);
/* Returns HB_EINVAL on a duplicate name or a bad shape. */
int hb_st_writer_add(hb_st_writer *w, const char *name, hb_st_dtype dtype, int ndim, const int64_t *shape,
                     const void *data, hb_err *err);
int hb_st_writer_add_fill(hb_st_writer *w, const char *name, hb_st_dtype dtype, int ndim, const int64_t *shape,
                          hb_st_fill_fn fill, void *ctx, hb_err *err);
/* Write one file at path (max_shard_bytes = 0), or a sharded set in dir(path) named after path's stem
 * ("dir/model.safetensors" -> "dir/model-00001-of-00003.safetensors" ... + "dir/model.safetensors.index.json"). */
int hb_st_writer_save(hb_st_writer *w, const char *path, uint64_t max_shard_bytes, hb_err *err);

#endif

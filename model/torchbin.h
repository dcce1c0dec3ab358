/* model/torchbin — PyTorch `torch.save` checkpoints (the zip format, torch >= 1.6; `pytorch_model*.bin`) read in
 * place as safetensors-like tensors. safetensors.c calls it when a file starts with a zip signature, so every
 * hb_st consumer reads `.bin` files and `pytorch_model.bin.index.json` sets (docs/checkpoint-format.md).
 *
 * Dependencies:
 *   core/core.h            hb_err
 *   model/safetensors.h    hb_st_tensor, hb_st_dtype
 *   (impl) sources/pickle.h    the safe pickle reader in object mode (data.pkl as inert data)
 *
 * Format: a zip (entries stored, not compressed, each entry's data 64-byte aligned) of
 *   <top>/data.pkl        a pickle of the state dict (an OrderedDict or dict {name: tensor})
 *   <top>/data/<key>      each storage's bytes (little-endian, numel × element size)
 *   <top>/byteorder       "little" (absent before torch 1.10: little)
 *   <top>/version, .format_version, .storage_alignment, .data/serialization_id   (not needed)
 * where <top> is any single folder name ("archive", "pytorch_model", ...).
 *
 * Safety: data.pkl is never executed. It is read as inert data (sources/pickle.h) and only these Python globals
 * may appear anywhere in it: collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter,
 * the storage classes torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,Bool}Storage and
 * torch[.storage].UntypedStorage (bytes), and the dtype objects torch.float32, torch.bfloat16, ... Any other global
 * (os.system, builtins.eval, a model class, ...) is HB_EFORMAT naming the file and the global. The accepted shapes:
 *   tensor     _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
 *              with empty backward_hooks; or _rebuild_parameter(tensor, requires_grad, backward_hooks)
 *   storage    persistent id ("storage", <storage class>, key, location, numel); one key has one dtype and numel,
 *              and its entry holds exactly numel × element size bytes
 * Tensors are views: several may share a storage at different offsets. A contiguous, element-aligned view points
 * into the mapped file; any other view (transposed, strided) is copied once at open (a view larger than its
 * storage, i.e. an expanded one, is refused; copies in all at most 4 times the file's size). */
#ifndef HB_TORCHBIN_H
#define HB_TORCHBIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "model/safetensors.h"

/* What the bytes at the start of a file are: a zip (torch >= 1.6), the legacy torch.save pickle stream (torch < 1.6:
 * a protocol 2+ pickle of the magic number 0x1950a86a20f9469cfc6c), or neither. */
typedef enum { HB_TB_NOT_TORCH, HB_TB_ZIP, HB_TB_LEGACY } hb_tb_kind;
hb_tb_kind hb_tb_sniff(const uint8_t *p, size_t n);

/* The tensors of one torch.save zip mapped at map[0, size). path names the file in errors; file is stored in each
 * tensor's .file. On success *t holds *n tensors in data.pkl's order whose names, copies and tree live in *keep
 * (free with hb_tb_free after the last use; the map must outlive them too). */
typedef struct hb_tb_file hb_tb_file;
int hb_tb_read(const char *path, const uint8_t *map, size_t size, int file, hb_tb_file **keep, hb_st_tensor **t,
               size_t *n, hb_err *err);
void hb_tb_free(hb_tb_file *f);

/* ---- the zip reader (torchbin_zip.c): the central directory of an in-memory zip, zip64 included ----
 * Entries are sorted by name (duplicates are an error). Each entry's data offset comes from its local header; the
 * bytes [data, data + csize) lie inside the file for every entry. Multi-disk archives are refused. */
typedef struct {
    const char *name; /* NUL-terminated copy */
    uint64_t data;    /* offset of the entry's (possibly compressed) data in the file */
    uint64_t csize;   /* stored bytes */
    uint64_t size;    /* uncompressed bytes */
    int method;       /* 0 = stored */
    unsigned flags;   /* general purpose flags (bit 0: encrypted) */
} hb_zip_entry;

typedef struct {
    hb_zip_entry *e;
    size_t n;
    char *names;
} hb_zip;

int hb_zip_index(const char *path, const uint8_t *map, size_t size, hb_zip *z, hb_err *err);
/* Index of the entry named name, or -1. */
long hb_zip_find(const hb_zip *z, const char *name);
void hb_zip_free(hb_zip *z);

#endif

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Weights files in the safetensors layout (https://github.com/huggingface/safetensors),
 * readable by Python's safetensors package and by plain numpy:
 *
 *   bytes 0..8   header length N, unsigned 64-bit little-endian
 *   bytes 8..8+N JSON header, padded with spaces to a multiple of 8 bytes:
 *                {"__metadata__": {"config": "...", ...},          (string -> string)
 *                 "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
 *   then         the data section: raw little-endian float32 of every tensor, in table
 *                order, offsets relative to the start of the data section.
 *
 * The model config, data normalisation and training command are metadata strings given
 * by the caller (safetensors allows only string values there; a config is JSON text).
 * The reader checks everything a damaged or foreign file could get wrong and names the
 * file in every message. Only F32 tensors are accepted; big-endian hosts are refused.
 */
#ifndef INVCSI_SAFETENSORS_H
#define INVCSI_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "invcsi/error.h"
#include "invcsi/params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_ST_MAX_RANK 8
#define INVCSI_ST_NAME_MAX 256                         /* bytes incl. NUL, in files */
#define INVCSI_ST_MAX_HEADER ((uint64_t)100 << 20)     /* larger headers are refused */

/* A metadata entry (both strings valid UTF-8). */
typedef struct invcsi_st_kv {
    const char *key;
    const char *value;
} invcsi_st_kv;

/* A tensor to write: rank 0..8 dims (>= 0), values from data (count = product). */
typedef struct invcsi_st_tensor_in {
    const char *name;
    int rank;
    const int64_t *shape;
    const float *data;
} invcsi_st_tensor_in;

/* A tensor of a loaded file. */
typedef struct invcsi_st_tensor {
    char name[INVCSI_ST_NAME_MAX];
    int rank;
    int64_t shape[INVCSI_ST_MAX_RANK];
    uint64_t count;          /* product of the shape */
    uint64_t begin, end;     /* byte range in the data section */
    const void *bytes;       /* data + begin: little-endian float32, maybe not 4-aligned */
} invcsi_st_tensor;

/* A loaded file: header decoded, whole file in memory. */
typedef struct invcsi_safetensors {
    char path[512];               /* for messages */
    int n_tensors;
    invcsi_st_tensor *tensors;    /* in order of data offset */
    int n_meta;
    invcsi_st_kv *meta;           /* strings owned by the struct */
    uint64_t header_len;
    const unsigned char *data;    /* data section */
    uint64_t data_len;
    unsigned char *file_bytes;    /* owned: the whole file */
    char *strings;                /* owned: metadata text */
} invcsi_safetensors;

/* Writes tensors and metadata to path atomically (path.tmp, fsync, rename). Names must
 * be unique, non-empty, valid UTF-8 and not "__metadata__"; metadata keys unique. */
int invcsi_safetensors_write(const char *path, const invcsi_st_tensor_in *tensors,
                             int n_tensors, const invcsi_st_kv *meta, int n_meta,
                             invcsi_error *err);

/* Writes every tensor of a finalized table, in table order. */
int invcsi_params_save(const invcsi_params *p, const char *path, const invcsi_st_kv *meta,
                       int n_meta, invcsi_error *err);

/* Reads and validates a whole file (INVCSI_EIO if it cannot be read, INVCSI_EFORMAT
 * if its content is wrong, INVCSI_EUNSUPPORTED on a big-endian host). On error *file
 * is empty. */
int invcsi_safetensors_load(const char *path, invcsi_safetensors *file, invcsi_error *err);
/* Same from bytes in memory (copied); name is used in messages. */
int invcsi_safetensors_parse(const void *bytes, size_t len, const char *name,
                             invcsi_safetensors *file, invcsi_error *err);
void invcsi_safetensors_free(invcsi_safetensors *file);

/* Tensor by name, NULL if absent. */
const invcsi_st_tensor *invcsi_safetensors_find(const invcsi_safetensors *file,
                                                const char *name);
/* Metadata value by key, NULL if absent. */
const char *invcsi_safetensors_meta(const invcsi_safetensors *file, const char *key);
/* Copies a tensor's count floats to dst (handles unaligned data). */
void invcsi_safetensors_copy(const invcsi_st_tensor *t, float *dst);

/* Fills a finalized table from a file: every table tensor must be in the file with the
 * same shape, and the file must hold no other tensor; otherwise nothing is copied and
 * the message names the tensor (and both shapes on a mismatch). */
int invcsi_params_load_from(invcsi_params *p, const invcsi_safetensors *file,
                            invcsi_error *err);
/* invcsi_safetensors_load + invcsi_params_load_from + free, when metadata is not needed. */
int invcsi_params_load(invcsi_params *p, const char *path, invcsi_error *err);

#ifdef __cplusplus
}
#endif
#endif

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* safetensors weights files: atomic writer and validating reader (see invcsi/safetensors.h). */
#include "invcsi/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "invcsi/json.h"

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

static int refuse_big_endian(const char *path, invcsi_error *err)
{
    return invcsi_error_set(err, INVCSI_EUNSUPPORTED,
                            "%s: safetensors files are little-endian and this host is "
                            "big-endian, which gr-invcsi does not support",
                            path);
}

static char *shape64_str(char *buf, size_t n, int rank, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < rank && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, d ? ", %" PRId64 : "%" PRId64, shape[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
    return buf;
}

/* ---------------------------------------------------------------------------------- */
/* Writer                                                                             */
/* ---------------------------------------------------------------------------------- */

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* fsync the directory holding path, so the rename itself survives a crash. */
static void sync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

static int tensor_count(const invcsi_st_tensor_in *t, uint64_t *count)
{
    uint64_t c = 1;
    for (int d = 0; d < t->rank; d++) {
        if (t->shape[d] < 0)
            return -1;
        if (t->shape[d] > 0 && c > (UINT64_MAX / 8) / (uint64_t)t->shape[d])
            return -1;
        c *= (uint64_t)t->shape[d];
    }
    *count = c;
    return 0;
}

int invcsi_safetensors_write(const char *path, const invcsi_st_tensor_in *tensors,
                             int n_tensors, const invcsi_st_kv *meta, int n_meta,
                             invcsi_error *err)
{
    if (!path || !path[0])
        return invcsi_error_set(err, INVCSI_EINVAL, "weights file: empty path");
    if (!host_is_little_endian())
        return refuse_big_endian(path, err);
    if (n_tensors < 0 || n_meta < 0 || (n_tensors && !tensors) || (n_meta && !meta))
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: bad tensor or metadata list", path);

    /* validate everything before touching the disk */
    for (int i = 0; i < n_tensors; i++) {
        const invcsi_st_tensor_in *t = &tensors[i];
        uint64_t count = 0;
        if (!t->name || !t->name[0] || strlen(t->name) >= INVCSI_ST_NAME_MAX ||
            !invcsi_utf8_valid(t->name, strlen(t->name)))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "%s: tensor %d has an empty, too long or non-UTF-8 name",
                                    path, i);
        if (strcmp(t->name, "__metadata__") == 0)
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "%s: tensor name \"__metadata__\" is reserved", path);
        if (t->rank < 0 || t->rank > INVCSI_ST_MAX_RANK || (t->rank && !t->shape) ||
            tensor_count(t, &count) != 0)
            return invcsi_error_set(err, INVCSI_EINVAL, "%s: tensor \"%s\" has an invalid shape",
                                    path, t->name);
        if (count && !t->data)
            return invcsi_error_set(err, INVCSI_EINVAL, "%s: tensor \"%s\" has no data", path,
                                    t->name);
        for (int j = 0; j < i; j++)
            if (strcmp(tensors[j].name, t->name) == 0)
                return invcsi_error_set(err, INVCSI_EINVAL, "%s: tensor \"%s\" appears twice",
                                        path, t->name);
    }
    for (int i = 0; i < n_meta; i++) {
        if (!meta[i].key || !meta[i].value)
            return invcsi_error_set(err, INVCSI_EINVAL, "%s: metadata entry %d is NULL", path, i);
        for (int j = 0; j < i; j++)
            if (strcmp(meta[j].key, meta[i].key) == 0)
                return invcsi_error_set(err, INVCSI_EINVAL,
                                        "%s: metadata key \"%s\" appears twice", path,
                                        meta[i].key);
    }

    /* header */
    invcsi_json_writer w;
    invcsi_jw_init(&w);
    invcsi_jw_object_begin(&w);
    if (n_meta) {
        invcsi_jw_key(&w, "__metadata__");
        invcsi_jw_object_begin(&w);
        for (int i = 0; i < n_meta; i++) {
            invcsi_jw_key(&w, meta[i].key);
            invcsi_jw_string(&w, meta[i].value);
        }
        invcsi_jw_object_end(&w);
    }
    uint64_t offset = 0;
    for (int i = 0; i < n_tensors; i++) {
        const invcsi_st_tensor_in *t = &tensors[i];
        uint64_t count = 0;
        tensor_count(t, &count);
        invcsi_jw_key(&w, t->name);
        invcsi_jw_object_begin(&w);
        invcsi_jw_key(&w, "dtype");
        invcsi_jw_string(&w, "F32");
        invcsi_jw_key(&w, "shape");
        invcsi_jw_array_begin(&w);
        for (int d = 0; d < t->rank; d++)
            invcsi_jw_integer(&w, t->shape[d]);
        invcsi_jw_array_end(&w);
        invcsi_jw_key(&w, "data_offsets");
        invcsi_jw_array_begin(&w);
        invcsi_jw_integer(&w, (int64_t)offset);
        offset += count * sizeof(float);
        invcsi_jw_integer(&w, (int64_t)offset);
        invcsi_jw_array_end(&w);
        invcsi_jw_object_end(&w);
    }
    invcsi_jw_object_end(&w);
    const char *header;
    size_t header_len;
    invcsi_error jerr;
    if (invcsi_jw_finish(&w, &header, &header_len, &jerr) != INVCSI_OK) {
        invcsi_jw_free(&w);
        return invcsi_error_set(err, jerr.code, "%s: cannot build the header: %s", path, jerr.msg);
    }
    size_t padded = (header_len + 7) / 8 * 8;
    if (padded > INVCSI_ST_MAX_HEADER) {
        invcsi_jw_free(&w);
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: header of %zu bytes is too large", path,
                                padded);
    }

    /* data: path.tmp, then fsync and rename, so a crash never leaves a half file */
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) {
        invcsi_jw_free(&w);
        return invcsi_error_set(err, INVCSI_ENOMEM, "%s: out of memory", path);
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        invcsi_jw_free(&w);
        invcsi_error_set(err, INVCSI_EIO, "%s: cannot create: %s", tmp, strerror(e));
        free(tmp);
        return INVCSI_EIO;
    }
    unsigned char len8[8];
    uint64_t n = padded;
    for (int b = 0; b < 8; b++)
        len8[b] = (unsigned char)(n >> (8 * b));
    static const char spaces[8] = "        ";
    int bad = write_all(fd, len8, 8) || write_all(fd, header, header_len) ||
              write_all(fd, spaces, padded - header_len);
    for (int i = 0; i < n_tensors && !bad; i++) {
        uint64_t count = 0;
        tensor_count(&tensors[i], &count);
        if (count)
            bad = write_all(fd, tensors[i].data, (size_t)count * sizeof(float));
    }
    if (!bad)
        bad = fsync(fd);
    int e = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    invcsi_jw_free(&w);
    if (bad) {
        unlink(tmp);
        invcsi_error_set(err, INVCSI_EIO, "%s: cannot write: %s", tmp, strerror(e));
        free(tmp);
        return INVCSI_EIO;
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        invcsi_error_set(err, INVCSI_EIO, "%s: cannot rename %s to it: %s", path, tmp, strerror(e));
        free(tmp);
        return INVCSI_EIO;
    }
    free(tmp);
    sync_parent_dir(path);
    return INVCSI_OK;
}

int invcsi_params_save(const invcsi_params *p, const char *path, const invcsi_st_kv *meta,
                       int n_meta, invcsi_error *err)
{
    if (!p->finalized || !p->data)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "%s: cannot save a parameter table that is not finalized", path);
    invcsi_st_tensor_in *in = calloc((size_t)p->n_tensors, sizeof *in);
    int64_t(*shapes)[INVCSI_PARAM_MAX_RANK] = calloc((size_t)p->n_tensors, sizeof *shapes);
    if (!in || !shapes) {
        free(in);
        free(shapes);
        return invcsi_error_set(err, INVCSI_ENOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < p->n_tensors; i++) {
        const invcsi_tensor *t = &p->tensors[i];
        for (int d = 0; d < t->rank; d++)
            shapes[i][d] = t->shape[d];
        in[i].name = t->name;
        in[i].rank = t->rank;
        in[i].shape = shapes[i];
        in[i].data = p->data + t->offset;
    }
    int rc = invcsi_safetensors_write(path, in, p->n_tensors, meta, n_meta, err);
    free(in);
    free(shapes);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* Reader                                                                             */
/* ---------------------------------------------------------------------------------- */

void invcsi_safetensors_free(invcsi_safetensors *file)
{
    if (!file)
        return;
    free(file->tensors);
    free(file->meta);
    free(file->file_bytes);
    free(file->strings);
    memset(file, 0, sizeof *file);
}

static int cmp_offsets(const void *a, const void *b)
{
    const invcsi_st_tensor *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

/* Non-negative integer JSON value, or -1. */
static int64_t json_uint(const invcsi_json *v)
{
    if (!v || v->type != INVCSI_JSON_NUMBER || !v->is_integer || v->integer < 0)
        return -1;
    return v->integer;
}

static int parse_metadata(invcsi_safetensors *f, const invcsi_json *m, invcsi_error *err)
{
    const char *path = f->path;
    if (m->type == INVCSI_JSON_NULL)
        return INVCSI_OK;
    if (m->type != INVCSI_JSON_OBJECT)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: \"__metadata__\" must be an object of strings, found %s",
                                path, invcsi_json_type_name(m->type));
    size_t bytes = 0;
    for (const invcsi_json *c = m->child; c; c = c->next) {
        if (c->type != INVCSI_JSON_STRING)
            return invcsi_error_set(err, INVCSI_EFORMAT,
                                    "%s: metadata \"%.100s\" must be a string, found %s", path,
                                    c->key, invcsi_json_type_name(c->type));
        bytes += c->key_len + c->string_len + 2;
    }
    if (!m->count)
        return INVCSI_OK;
    f->meta = calloc(m->count, sizeof *f->meta);
    f->strings = malloc(bytes);
    if (!f->meta || !f->strings)
        return invcsi_error_set(err, INVCSI_ENOMEM, "%s: out of memory", path);
    char *s = f->strings;
    for (const invcsi_json *c = m->child; c; c = c->next) {
        invcsi_st_kv *kv = &f->meta[f->n_meta++];
        memcpy(s, c->key, c->key_len + 1);
        kv->key = s;
        s += c->key_len + 1;
        memcpy(s, c->string, c->string_len + 1);
        kv->value = s;
        s += c->string_len + 1;
    }
    return INVCSI_OK;
}

static int parse_tensor(invcsi_safetensors *f, const invcsi_json *v, invcsi_st_tensor *t,
                        invcsi_error *err)
{
    const char *path = f->path;
    if (v->key_len >= INVCSI_ST_NAME_MAX || strlen(v->key) != v->key_len || !v->key_len)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: tensor name \"%.60s...\" is empty, longer than %d bytes or "
                                "holds a NUL",
                                path, v->key, INVCSI_ST_NAME_MAX - 1);
    memcpy(t->name, v->key, v->key_len + 1);
    const char *name = t->name;
    if (v->type != INVCSI_JSON_OBJECT)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: tensor \"%s\": expected an object, found %s", path, name,
                                invcsi_json_type_name(v->type));
    const char *dtype = invcsi_json_string(invcsi_json_get(v, "dtype"));
    if (!dtype)
        return invcsi_error_set(err, INVCSI_EFORMAT, "%s: tensor \"%s\" has no \"dtype\" string",
                                path, name);
    if (strcmp(dtype, "F32") != 0)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: tensor \"%s\" has dtype %.20s; only F32 is supported", path,
                                name, dtype);
    const invcsi_json *shape = invcsi_json_get(v, "shape");
    if (!shape || shape->type != INVCSI_JSON_ARRAY)
        return invcsi_error_set(err, INVCSI_EFORMAT, "%s: tensor \"%s\" has no \"shape\" array",
                                path, name);
    if (shape->count > INVCSI_ST_MAX_RANK)
        return invcsi_error_set(err, INVCSI_EFORMAT, "%s: tensor \"%s\" has rank %zu, limit %d",
                                path, name, shape->count, INVCSI_ST_MAX_RANK);
    t->rank = (int)shape->count;
    uint64_t count = 1;
    int overflow = 0;
    int d = 0;
    for (const invcsi_json *c = shape->child; c; c = c->next, d++) {
        int64_t n = json_uint(c);
        if (n < 0)
            return invcsi_error_set(err, INVCSI_EFORMAT,
                                    "%s: tensor \"%s\": shape entry %d is not a non-negative "
                                    "integer",
                                    path, name, d);
        t->shape[d] = n;
        if (n && count > (UINT64_MAX / 4) / (uint64_t)n)
            overflow = 1;
        else
            count *= (uint64_t)n;
    }
    char sb[200];
    if (overflow)
        return invcsi_error_set(err, INVCSI_EFORMAT, "%s: tensor \"%s\": shape %s is too large",
                                path, name, shape64_str(sb, sizeof sb, t->rank, t->shape));
    t->count = count;
    const invcsi_json *offs = invcsi_json_get(v, "data_offsets");
    int64_t b = -1, e = -1;
    if (offs && offs->type == INVCSI_JSON_ARRAY && offs->count == 2) {
        b = json_uint(offs->child);
        e = json_uint(offs->child->next);
    }
    if (b < 0 || e < 0)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: tensor \"%s\": \"data_offsets\" must be two non-negative "
                                "integers [begin, end]",
                                path, name);
    if (e < b)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: tensor \"%s\": data_offsets [%" PRId64 ", %" PRId64
                                "] end before they begin",
                                path, name, b, e);
    t->begin = (uint64_t)b;
    t->end = (uint64_t)e;
    if (t->end - t->begin != count * 4)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: tensor \"%s\": data_offsets [%" PRId64 ", %" PRId64
                                "] hold %" PRIu64 " bytes but shape %s of F32 needs %" PRIu64,
                                path, name, b, e, t->end - t->begin,
                                shape64_str(sb, sizeof sb, t->rank, t->shape), count * 4);
    if (t->end > f->data_len)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: truncated: tensor \"%s\" ends at byte %" PRIu64
                                " of the data section, which holds only %" PRIu64 " bytes",
                                path, name, t->end, f->data_len);
    t->bytes = f->data + t->begin;
    return INVCSI_OK;
}

static uint64_t read_u64le(const unsigned char *b)
{
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | b[i];
    return n;
}

/* The 8-byte header length against the file size (total bytes, >= 8). */
static int check_length_field(const char *path, uint64_t n, uint64_t total, invcsi_error *err)
{
    if (n > INVCSI_ST_MAX_HEADER)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: header length %" PRIu64
                                " is absurd (limit 100 MB): not a safetensors file?",
                                path, n);
    if (n > total - 8)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: header length %" PRIu64 " exceeds the file size (%" PRIu64
                                " bytes): truncated or not a safetensors file",
                                path, n, total);
    return INVCSI_OK;
}

/* Decodes the header of the file already in f->file_bytes (length total). */
static int parse_file(invcsi_safetensors *f, uint64_t total, invcsi_error *err)
{
    const char *path = f->path;
    const unsigned char *b = f->file_bytes;
    if (total < 8)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: file is %" PRIu64
                                " bytes, shorter than the 8-byte header length of a "
                                "safetensors file",
                                path, total);
    uint64_t n = read_u64le(b);
    int rc = check_length_field(path, n, total, err);
    if (rc != INVCSI_OK)
        return rc;
    f->header_len = n;
    f->data = b + 8 + n;
    f->data_len = total - 8 - n;

    invcsi_json_doc doc;
    invcsi_error jerr;
    rc = invcsi_json_parse((const char *)b + 8, (size_t)n, &doc, &jerr);
    if (rc != INVCSI_OK)
        return invcsi_error_set(err, rc, "%s: invalid JSON header (it starts at file byte 8): %s",
                                path, jerr.msg);
    const invcsi_json *root = doc.root;
    if (root->type != INVCSI_JSON_OBJECT) {
        invcsi_json_type type = root->type;
        invcsi_json_doc_free(&doc);
        return invcsi_error_set(err, INVCSI_EFORMAT, "%s: header must be a JSON object, found %s",
                                path, invcsi_json_type_name(type));
    }
    size_t n_tensors = root->count;
    const invcsi_json *meta = invcsi_json_get(root, "__metadata__");
    if (meta)
        n_tensors--;
    if (n_tensors > (size_t)1 << 24) {
        invcsi_json_doc_free(&doc);
        return invcsi_error_set(err, INVCSI_EFORMAT, "%s: %zu tensors is too many", path,
                                n_tensors);
    }
    rc = meta ? parse_metadata(f, meta, err) : INVCSI_OK;
    if (rc == INVCSI_OK && n_tensors) {
        f->tensors = calloc(n_tensors, sizeof *f->tensors);
        if (!f->tensors)
            rc = invcsi_error_set(err, INVCSI_ENOMEM, "%s: out of memory", path);
    }
    for (const invcsi_json *c = root->child; c && rc == INVCSI_OK; c = c->next) {
        if (c == meta)
            continue;
        rc = parse_tensor(f, c, &f->tensors[f->n_tensors], err);
        if (rc == INVCSI_OK)
            f->n_tensors++;
    }
    invcsi_json_doc_free(&doc);
    if (rc != INVCSI_OK)
        return rc;

    /* the data section must be covered exactly: no overlap, no gap, nothing after */
    if (f->n_tensors > 1)
        qsort(f->tensors, (size_t)f->n_tensors, sizeof *f->tensors, cmp_offsets);
    uint64_t at = 0;
    for (int i = 0; i < f->n_tensors; i++) {
        const invcsi_st_tensor *t = &f->tensors[i];
        if (t->begin < at)
            return invcsi_error_set(err, INVCSI_EFORMAT,
                                    "%s: tensors \"%s\" and \"%s\" overlap in the data section",
                                    path, f->tensors[i - 1].name, t->name);
        if (t->begin > at)
            return invcsi_error_set(err, INVCSI_EFORMAT,
                                    "%s: gap of %" PRIu64 " unused bytes before tensor \"%s\"",
                                    path, t->begin - at, t->name);
        at = t->end;
    }
    if (at != f->data_len)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: %" PRIu64 " bytes after the last tensor (data section of %"
                                PRIu64 " bytes, tensors cover %" PRIu64 ")",
                                path, f->data_len - at, f->data_len, at);
    return INVCSI_OK;
}

static void set_path(invcsi_safetensors *f, const char *name)
{
    snprintf(f->path, sizeof f->path, "%s", name && name[0] ? name : "(weights)");
}

int invcsi_safetensors_parse(const void *bytes, size_t len, const char *name,
                             invcsi_safetensors *file, invcsi_error *err)
{
    memset(file, 0, sizeof *file);
    set_path(file, name);
    if (!host_is_little_endian())
        return refuse_big_endian(file->path, err);
    if (!bytes && len)
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: NULL buffer", file->path);
    file->file_bytes = malloc(len ? len : 1);
    if (!file->file_bytes)
        return invcsi_error_set(err, INVCSI_ENOMEM, "%s: out of memory", file->path);
    if (len)
        memcpy(file->file_bytes, bytes, len);
    int rc = parse_file(file, len, err);
    if (rc != INVCSI_OK)
        invcsi_safetensors_free(file);
    return rc;
}

int invcsi_safetensors_load(const char *path, invcsi_safetensors *file, invcsi_error *err)
{
    memset(file, 0, sizeof *file);
    set_path(file, path);
    if (!path || !path[0])
        return invcsi_error_set(err, INVCSI_EINVAL, "weights file: empty path");
    if (!host_is_little_endian())
        return refuse_big_endian(path, err);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return invcsi_error_set(err, INVCSI_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return invcsi_error_set(err, INVCSI_EIO, "%s: not a regular file", path);
    }
    uint64_t total = (uint64_t)st.st_size;
    /* read the length field first, so a huge foreign file is refused before it is read */
    unsigned char len8[8];
    ssize_t got = total >= 8 ? pread(fd, len8, 8, 0) : 0;
    if (total >= 8 && got == 8) {
        int rc = check_length_field(path, read_u64le(len8), total, err);
        if (rc != INVCSI_OK) {
            close(fd);
            return rc;
        }
    }
    if (total > (uint64_t)SIZE_MAX - 1) {
        close(fd);
        return invcsi_error_set(err, INVCSI_ENOMEM, "%s: file too large", path);
    }
    file->file_bytes = malloc(total ? (size_t)total : 1);
    if (!file->file_bytes) {
        close(fd);
        return invcsi_error_set(err, INVCSI_ENOMEM, "%s: cannot allocate %" PRIu64 " bytes", path,
                                total);
    }
    uint64_t done = 0;
    while (done < total) {
        ssize_t k = pread(fd, file->file_bytes + done, (size_t)(total - done), (off_t)done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = k < 0 ? errno : 0;
            close(fd);
            invcsi_safetensors_free(file);
            return invcsi_error_set(err, INVCSI_EIO, "%s: read failed after %" PRIu64 " bytes: %s",
                                    path, done, e ? strerror(e) : "file shrank while reading");
        }
        done += (uint64_t)k;
    }
    close(fd);
    int rc = parse_file(file, total, err);
    if (rc != INVCSI_OK) {
        invcsi_safetensors_free(file);
        set_path(file, path);
    }
    return rc;
}

const invcsi_st_tensor *invcsi_safetensors_find(const invcsi_safetensors *file, const char *name)
{
    if (!file || !name)
        return NULL;
    for (int i = 0; i < file->n_tensors; i++)
        if (strcmp(file->tensors[i].name, name) == 0)
            return &file->tensors[i];
    return NULL;
}

const char *invcsi_safetensors_meta(const invcsi_safetensors *file, const char *key)
{
    if (!file || !key)
        return NULL;
    for (int i = 0; i < file->n_meta; i++)
        if (strcmp(file->meta[i].key, key) == 0)
            return file->meta[i].value;
    return NULL;
}

void invcsi_safetensors_copy(const invcsi_st_tensor *t, float *dst)
{
    if (t->count)
        memcpy(dst, t->bytes, (size_t)t->count * sizeof(float));
}

int invcsi_params_load_from(invcsi_params *p, const invcsi_safetensors *file, invcsi_error *err)
{
    const char *path = file->path;
    if (!p->finalized || !p->data)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "%s: the parameter table must be finalized before loading", path);
    char fs[200], ms[200];
    /* check everything first: a failed load leaves the parameters untouched */
    for (int i = 0; i < p->n_tensors; i++) {
        const invcsi_tensor *t = &p->tensors[i];
        const invcsi_st_tensor *ft = invcsi_safetensors_find(file, t->name);
        if (!ft)
            return invcsi_error_set(err, INVCSI_EFORMAT,
                                    "%s: model tensor \"%s\" (shape %s) is missing from the file",
                                    path, t->name, invcsi_shape_str(ms, sizeof ms, t->rank, t->shape));
        int same = ft->rank == t->rank;
        for (int d = 0; same && d < t->rank; d++)
            same = ft->shape[d] == t->shape[d];
        if (!same)
            return invcsi_error_set(err, INVCSI_EFORMAT,
                                    "%s: tensor \"%s\" has shape %s in the file but %s in the model",
                                    path, t->name, shape64_str(fs, sizeof fs, ft->rank, ft->shape),
                                    invcsi_shape_str(ms, sizeof ms, t->rank, t->shape));
    }
    for (int i = 0; i < file->n_tensors; i++)
        if (invcsi_params_index(p, file->tensors[i].name) < 0)
            return invcsi_error_set(err, INVCSI_EFORMAT,
                                    "%s: tensor \"%s\" in the file is not part of the model "
                                    "(weights for another model or config?)",
                                    path, file->tensors[i].name);
    for (int i = 0; i < p->n_tensors; i++) {
        const invcsi_tensor *t = &p->tensors[i];
        invcsi_safetensors_copy(invcsi_safetensors_find(file, t->name), p->data + t->offset);
    }
    return INVCSI_OK;
}

int invcsi_params_load(invcsi_params *p, const char *path, invcsi_error *err)
{
    invcsi_safetensors f;
    int rc = invcsi_safetensors_load(path, &f, err);
    if (rc == INVCSI_OK)
        rc = invcsi_params_load_from(p, &f, err);
    invcsi_safetensors_free(&f);
    return rc;
}

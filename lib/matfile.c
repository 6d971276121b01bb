/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Channel sets in .mat files through libmatio (see include/invcsi/matfile.h for the
 * layouts). Two rules shape this file:
 *  - memory: H goes to and from matio's split (re[], im[]) storage in chunks of
 *    samples, so a big set is never held twice;
 *  - bad files: every check that matio does not do (truncation of v5 files, which
 *    matio may read as zeros; damaged HDF5 metadata; shapes; NaN/Inf) happens here,
 *    and HDF5's own error printing is switched off while we call into it, so a bad
 *    file gives one clear message and never a crash or a screen of HDF5 diagnostics.
 */
#include "invcsi/matfile.h"

#include "invcsi/transform.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <matio.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<hdf5.h>)
#include <hdf5.h>
#define INVCSI_HAVE_HDF5_API 1
#endif
#endif

/* Values (complex or real) converted per chunk: 4 Mi values = 32 MB of split floats. */
#define CHUNK_VALUES (4L << 20)

/* Variables listed in "no channel variable" messages. */
#define MAX_LISTED_VARS 8

/* ------------------------------------------------------------------------------------ */
/* One lock around matio and HDF5 (neither is thread-safe), HDF5 printing switched off. */

static pthread_mutex_t mat_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t mat_log_once = PTHREAD_ONCE_INIT;
static char mat_last_log[256]; /* last matio log message, guarded by mat_lock */

static void mat_log_capture(int level, char *message)
{
    (void)level;
    snprintf(mat_last_log, sizeof mat_last_log, "%s", message ? message : "");
}

static void mat_log_init(void)
{
    /* matio prints its errors to stderr by default; a library must not. The message is
     * kept and added to ours where it helps. */
    Mat_LogInitFunc("invcsi", mat_log_capture);
}

typedef struct mat_guard {
#ifdef INVCSI_HAVE_HDF5_API
    H5E_auto2_t old_func;
    void *old_data;
#endif
    int dummy;
} mat_guard;

static void mat_enter(mat_guard *g)
{
    pthread_once(&mat_log_once, mat_log_init);
    pthread_mutex_lock(&mat_lock);
    mat_last_log[0] = '\0';
#ifdef INVCSI_HAVE_HDF5_API
    g->old_func = NULL;
    g->old_data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &g->old_func, &g->old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
#else
    (void)g;
#endif
}

static void mat_leave(mat_guard *g)
{
#ifdef INVCSI_HAVE_HDF5_API
    H5Eset_auto2(H5E_DEFAULT, g->old_func, g->old_data);
#else
    (void)g;
#endif
    pthread_mutex_unlock(&mat_lock);
}

/* ------------------------------------------------------------------------------------ */
/* Writer                                                                               */

static matvar_t *scalar_double(const char *name, double v)
{
    size_t dims[2] = {1, 1};
    return Mat_VarCreate(name, MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, &v, 0);
}

/* Char row vector; non-ASCII bytes become '?' (matio stores one code unit per byte). */
static matvar_t *char_row(const char *name, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < len; i++)
        copy[i] = ((unsigned char)s[i] < 128) ? s[i] : '?';
    copy[len] = '\0';
    size_t dims[2] = {1, len};
    matvar_t *v = Mat_VarCreate(name, MAT_C_CHAR, MAT_T_UTF8, 2, dims, copy, 0);
    free(copy);
    return v;
}

static int write_config(mat_t *mat, const invcsi_channels *c, const char *command)
{
    static const char *const fields[] = {"model",  "seed",   "nt",       "nr",
                                         "nc",     "fc_ghz", "bw_mhz",   "ds_ns",
                                         "ds_lgstd", "k_factor_db", "command",
                                         "format_version", NULL};
    const invcsi_channel_config *cfg = &c->cfg;
    size_t one[2] = {1, 1};
    matvar_t *s = Mat_VarCreateStruct2("config", 2, one, fields);
    if (!s)
        return -1;
    uint64_t seed = cfg->seed;
    matvar_t *f[12];
    f[0] = char_row("model", cfg->model);
    f[1] = Mat_VarCreate("seed", MAT_C_UINT64, MAT_T_UINT64, 2, one, &seed, 0);
    f[2] = scalar_double("nt", c->nt);
    f[3] = scalar_double("nr", c->nr);
    f[4] = scalar_double("nc", c->nc);
    f[5] = scalar_double("fc_ghz", cfg->fc_ghz);
    f[6] = scalar_double("bw_mhz", cfg->bw_mhz);
    f[7] = scalar_double("ds_ns", cfg->ds_ns);
    f[8] = scalar_double("ds_lgstd", cfg->ds_lgstd);
    f[9] = scalar_double("k_factor_db", cfg->k_factor_db);
    f[10] = char_row("command", command ? command : "");
    f[11] = scalar_double("format_version", INVCSI_MAT_FORMAT_VERSION);
    int bad = 0;
    for (int i = 0; i < 12; i++) {
        if (!f[i]) {
            bad = 1;
            continue;
        }
        /* The struct owns the field from here on (freed with it). */
        Mat_VarSetStructFieldByName(s, fields[i], 0, f[i]);
    }
    if (!bad)
        bad = Mat_VarWrite(mat, s, MAT_COMPRESSION_NONE) != 0;
    Mat_VarFree(s);
    return bad ? -1 : 0;
}

/* H in chunks of whole samples, each converted to split storage and appended along
 * MATLAB's 4th dimension (the sample axis). */
static int write_h(mat_t *mat, const invcsi_channels *c)
{
    const long len = invcsi_channels_sample_len(c);
    long chunk = CHUNK_VALUES / len;
    if (chunk < 1)
        chunk = 1;
    if (chunk > c->n)
        chunk = c->n;
    float *re = malloc(sizeof(float) * (size_t)(chunk * len));
    float *im = malloc(sizeof(float) * (size_t)(chunk * len));
    int rc = (re && im) ? 0 : -2;
    for (long i0 = 0, cnt; rc == 0 && i0 < c->n; i0 += cnt) {
        /* matio sizes the HDF5 chunks (<= 4096 values, sample axis first) from the first
         * append: one sample there gives chunks that tile single samples, so reading one
         * sample (h5py H[i], MATLAB H(:,:,:,i)) touches only its own chunks. */
        cnt = i0 == 0 ? 1 : (c->n - i0 < chunk) ? c->n - i0 : chunk;
        const float *src = c->h + 2 * i0 * len;
        for (long j = 0; j < cnt * len; j++) {
            re[j] = src[2 * j];
            im[j] = src[2 * j + 1];
        }
        size_t dims[4] = {(size_t)c->nc, (size_t)c->nt, (size_t)c->nr, (size_t)cnt};
        mat_complex_split_t z = {re, im};
        matvar_t *v = Mat_VarCreate("H", MAT_C_SINGLE, MAT_T_SINGLE, 4, dims, &z,
                                    MAT_F_COMPLEX | MAT_F_DONT_COPY_DATA);
        if (!v) {
            rc = -1;
            break;
        }
        if (Mat_VarWriteAppend(mat, v, MAT_COMPRESSION_NONE, 4) != 0)
            rc = -1;
        Mat_VarFree(v); /* DONT_COPY_DATA: frees the matvar, not re/im */
    }
    free(re);
    free(im);
    return rc;
}

static int write_pos(mat_t *mat, const invcsi_channels *c)
{
    /* MATLAB [3 n] is the C order of pos[n][3]: numpy (n, 3) through h5py. */
    size_t dims[2] = {3, (size_t)c->n};
    matvar_t *v = Mat_VarCreate("pos", MAT_C_SINGLE, MAT_T_SINGLE, 2, dims, c->pos,
                                MAT_F_DONT_COPY_DATA);
    if (!v)
        return -1;
    int rc = Mat_VarWrite(mat, v, MAT_COMPRESSION_NONE) != 0 ? -1 : 0;
    Mat_VarFree(v);
    return rc;
}

int invcsi_mat_write_channels(const char *path, const invcsi_channels *c, const char *command,
                              invcsi_error *err)
{
    if (!path || !*path)
        return invcsi_error_set(err, INVCSI_EINVAL, "invcsi_mat_write_channels: no output path");
    if (!c || !c->h || c->n <= 0 || c->nr <= 0 || c->nt <= 0 || c->nc <= 0)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "%s: refusing to write an empty channel set", path);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp)
        return invcsi_error_set(err, INVCSI_ENOMEM, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);

    mat_guard g;
    mat_enter(&g);
    int rc = INVCSI_OK;
    mat_t *mat = Mat_CreateVer(tmp, NULL, MAT_FT_MAT73);
    if (!mat) {
        rc = invcsi_error_set(err, INVCSI_EIO, "%s: cannot create (check the directory exists "
                              "and is writable)%s%s", tmp, mat_last_log[0] ? ": " : "",
                              mat_last_log);
        goto out;
    }
    int w = write_h(mat, c);
    if (w == -2) {
        rc = invcsi_error_set(err, INVCSI_ENOMEM, "%s: out of memory for the write buffers",
                              path);
    } else if (w != 0) {
        rc = invcsi_error_set(err, INVCSI_EIO, "%s: writing H failed (disk full?)%s%s", tmp,
                              mat_last_log[0] ? ": " : "", mat_last_log);
    } else if (write_config(mat, c, command) != 0) {
        rc = invcsi_error_set(err, INVCSI_EIO, "%s: writing config failed%s%s", tmp,
                              mat_last_log[0] ? ": " : "", mat_last_log);
    } else if (c->pos && write_pos(mat, c) != 0) {
        rc = invcsi_error_set(err, INVCSI_EIO, "%s: writing pos failed%s%s", tmp,
                              mat_last_log[0] ? ": " : "", mat_last_log);
    }
    if (Mat_Close(mat) != 0 && rc == INVCSI_OK)
        rc = invcsi_error_set(err, INVCSI_EIO, "%s: closing the file failed (disk full?)", tmp);
    if (rc == INVCSI_OK && rename(tmp, path) != 0)
        rc = invcsi_error_set(err, INVCSI_EIO, "%s: cannot rename %s to it: %s", path, tmp,
                              strerror(errno));
    if (rc != INVCSI_OK)
        unlink(tmp);
out:
    mat_leave(&g);
    free(tmp);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Reader: file-level checks                                                            */

typedef struct reader {
    const char *path;
    mat_t *mat;
    int version; /* 73, 5 or 4 */
    invcsi_error *err;
} reader;

static uint32_t rd_u32(const unsigned char *p, int swap)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    if (swap)
        v = (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
    return v;
}

/* 1 if every byte from off to the end of f is zero. */
static int zeros_to_end(FILE *f, long off)
{
    if (fseek(f, off, SEEK_SET) != 0)
        return 0;
    int ch;
    while ((ch = fgetc(f)) != EOF)
        if (ch != 0)
            return 0;
    return 1;
}

/* matio reads a v5 file whose last compressed variable is cut short as if the missing
 * bytes were zeros: walk the top-level element tags and compare with the file size. */
static int check_v5_layout(const char *path, FILE *f, long size, int swap, invcsi_error *err)
{
    long off = 128;
    int index = 0;
    while (off < size) {
        unsigned char tag[8];
        if (size - off < 8 || fseek(f, off, SEEK_SET) != 0 || fread(tag, 1, 8, f) != 8) {
            if (zeros_to_end(f, off))
                break; /* padding after the last variable */
            return invcsi_error_set(err, INVCSI_EFORMAT,
                                    "%s: truncated MAT v5 file: %ld stray bytes after "
                                    "variable %d", path, size - off, index);
        }
        uint32_t type = rd_u32(tag, swap), nbytes = rd_u32(tag + 4, swap);
        if (type == 0 && zeros_to_end(f, off))
            break;
        long next;
        if (type == 15) { /* miCOMPRESSED: zlib stream, no padding */
            next = off + 8 + (long)nbytes;
        } else if (type == 14) { /* miMATRIX: padded to 8 bytes */
            next = off + 8 + (((long)nbytes + 7) & ~7L);
        } else {
            return invcsi_error_set(err, INVCSI_EFORMAT,
                                    "%s: damaged MAT v5 file: unexpected element type %u at "
                                    "byte %ld (variable %d)", path, type, off, index + 1);
        }
        if (next > size && !(type == 14 && off + 8 + (long)nbytes <= size))
            return invcsi_error_set(err, INVCSI_EFORMAT,
                                    "%s: truncated MAT v5 file: variable %d at byte %ld needs "
                                    "%u bytes but the file ends at byte %ld", path, index + 1,
                                    off, nbytes, size);
        off = next;
        index++;
    }
    return INVCSI_OK;
}

#ifdef INVCSI_HAVE_HDF5_API
static herr_t hdf5_first_error(unsigned n, const H5E_error2_t *e, void *ctx)
{
    char *out = ctx;
    /* Walking upward, the first entry is the deepest one, the cause (e.g. "truncated
     * file: eof = ..."), where the last is only "unable to open file". */
    if (!out[0] && e && e->desc && e->desc[0])
        snprintf(out, 200, "%s", e->desc);
    (void)n;
    return 0;
}

/* HDF5 checks its superblock and end-of-file address; matio just finds no variables in
 * a damaged file, so ask HDF5 first to name the problem. */
static int check_hdf5_opens(const char *path, invcsi_error *err)
{
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (fid >= 0) {
        H5Fclose(fid);
        return INVCSI_OK;
    }
    char why[200] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, hdf5_first_error, why);
    H5Eclear2(H5E_DEFAULT);
    return invcsi_error_set(err, INVCSI_EFORMAT,
                            "%s: damaged or truncated MAT v7.3 (HDF5) file%s%s", path,
                            why[0] ? ": HDF5 says: " : "", why);
}
#endif

/* Existence, emptiness, header kind; v5 truncation; HDF5 sanity; then Mat_Open. */
static int open_checked(reader *rd)
{
    const char *path = rd->path;
    invcsi_error *err = rd->err;
    FILE *f = fopen(path, "rb");
    if (!f)
        return invcsi_error_set(err, INVCSI_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return invcsi_error_set(err, INVCSI_EIO, "%s: not a regular file", path);
    }
    long size = (long)st.st_size;
    if (size == 0) {
        fclose(f);
        return invcsi_error_set(err, INVCSI_EFORMAT, "%s: empty file (0 bytes), not a MAT file",
                                path);
    }
    unsigned char hdr[128];
    size_t got = fread(hdr, 1, sizeof hdr, f);
    static const unsigned char hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (got >= 8 && memcmp(hdr, hdf5_sig, 8) == 0) {
        fclose(f);
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: plain HDF5 file without the 512-byte MATLAB header: matio "
                                "reads MAT files only (save with scipy.io.savemat, or with h5py "
                                "userblock_size=512 and a 'MATLAB 7.3 MAT-file' header)", path);
    }
    if (got < 128 && got >= 6 && memcmp(hdr, "MATLAB", 6) == 0) {
        fclose(f);
        return invcsi_error_set(err, INVCSI_EFORMAT, "%s: truncated MAT file: %zu bytes, "
                                "less than its 128-byte header", path, got);
    }
    int rc = INVCSI_OK;
    rd->version = 4;
    if (got == 128) {
        int swap = hdr[126] == 'M' && hdr[127] == 'I';
        int native = hdr[126] == 'I' && hdr[127] == 'M';
        unsigned ver = swap ? (unsigned)(hdr[124] << 8 | hdr[125])
                            : (unsigned)(hdr[125] << 8 | hdr[124]);
        if ((swap || native) && ver == 0x0100) {
            rd->version = 5;
            rc = check_v5_layout(path, f, size, swap, err);
        } else if ((swap || native) && ver == 0x0200) {
            rd->version = 73;
        }
    }
    fclose(f);
    if (rc != INVCSI_OK)
        return rc;
#ifdef INVCSI_HAVE_HDF5_API
    if (rd->version == 73 && (rc = check_hdf5_opens(path, err)) != INVCSI_OK)
        return rc;
#endif
    rd->mat = Mat_Open(path, MAT_ACC_RDONLY);
    if (!rd->mat) {
        if (rd->version == 4)
            return invcsi_error_set(err, INVCSI_EFORMAT,
                                    "%s: not a MAT file (no MATLAB v5/v7.3 header, and not a "
                                    "valid v4 file)", path);
        return invcsi_error_set(err, INVCSI_EFORMAT, "%s: matio cannot open this MAT v%s file%s%s",
                                path, rd->version == 73 ? "7.3" : "5",
                                mat_last_log[0] ? ": " : "", mat_last_log);
    }
    return INVCSI_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Reader: variables                                                                    */

static const char *class_name(enum matio_classes c)
{
    switch (c) {
    case MAT_C_EMPTY: return "empty/unknown";
    case MAT_C_CELL: return "cell";
    case MAT_C_STRUCT: return "struct";
    case MAT_C_OBJECT: return "object";
    case MAT_C_CHAR: return "char";
    case MAT_C_SPARSE: return "sparse";
    case MAT_C_DOUBLE: return "double";
    case MAT_C_SINGLE: return "single";
    case MAT_C_INT8: return "int8";
    case MAT_C_UINT8: return "uint8";
    case MAT_C_INT16: return "int16";
    case MAT_C_UINT16: return "uint16";
    case MAT_C_INT32: return "int32";
    case MAT_C_UINT32: return "uint32";
    case MAT_C_INT64: return "int64";
    case MAT_C_UINT64: return "uint64";
    default: return "unsupported";
    }
}

/* "MATLAB size 32x32x1x10 (h5py shape (10, 1, 32, 32))" for v7.3; v5/v4 readers
 * (scipy) see the MATLAB size itself. */
static const char *describe_dims(const reader *rd, const matvar_t *v, char *buf, size_t cap)
{
    size_t o = 0;
    o += snprintf(buf + o, cap - o, "MATLAB size ");
    for (int i = 0; i < v->rank && o < cap; i++)
        o += snprintf(buf + o, cap - o, "%s%zu", i ? "x" : "", v->dims[i]);
    if (rd->version == 73 && o < cap) {
        o += snprintf(buf + o, cap - o, " (h5py shape (");
        for (int i = v->rank - 1; i >= 0 && o < cap; i--)
            o += snprintf(buf + o, cap - o, "%zu%s", v->dims[i], i ? ", " : "))");
    }
    return buf;
}

static size_t numel(const matvar_t *v)
{
    size_t n = 1;
    for (int i = 0; i < v->rank; i++)
        n *= v->dims[i];
    return n;
}

/* Checks class (single/double), complexity and non-emptiness of a numeric variable. */
static int check_numeric(reader *rd, const matvar_t *v, const char *what, int need_complex,
                         int allow_complex)
{
    char d[160];
    if (v->class_type == MAT_C_EMPTY && rd->version == 73 && v->rank > 0 && numel(v) > 0)
        return invcsi_error_set(rd->err, INVCSI_EFORMAT,
                                "%s: %s has no MATLAB class (HDF5 dataset without a "
                                "MATLAB_class attribute, e.g. written by plain h5py)",
                                rd->path, what);
    if (v->class_type != MAT_C_DOUBLE && v->class_type != MAT_C_SINGLE)
        return invcsi_error_set(rd->err, INVCSI_EFORMAT,
                                "%s: %s has class %s; expected a %ssingle or double array",
                                rd->path, what, class_name(v->class_type),
                                need_complex ? "complex " : allow_complex ? "" : "real ");
    if (need_complex && !v->isComplex)
        return invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: %s is real; expected complex",
                                rd->path, what);
    if (!allow_complex && v->isComplex)
        return invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: %s is complex; expected real",
                                rd->path, what);
    if (v->rank < 1 || numel(v) == 0)
        return invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: %s is empty (%s)", rd->path,
                                what, describe_dims(rd, v, d, sizeof d));
    return INVCSI_OK;
}

/* Places count MATLAB elements, column-major linear indices [e0, e0 + count), into
 * dst: the element with subscripts s goes to value index sum_j s_j * stride[j]; a
 * complex dst holds (re, im) pairs. src (re, and im or NULL) is double or float. */
static void place_linear(const void *re, const void *im, int is_double, const size_t *dims,
                         int rank, size_t e0, size_t count, const long *stride, int cplx_dst,
                         float *dst)
{
    size_t idx[16];
    long off = 0;
    size_t rest = e0;
    for (int j = 0; j < rank; j++) {
        idx[j] = rest % dims[j];
        rest /= dims[j];
        off += (long)idx[j] * stride[j];
    }
    for (size_t e = 0; e < count; e++) {
        float vr = is_double ? (float)((const double *)re)[e] : ((const float *)re)[e];
        if (cplx_dst) {
            float vi = !im ? 0.0f
                           : is_double ? (float)((const double *)im)[e]
                                       : ((const float *)im)[e];
            dst[2 * off] = vr;
            dst[2 * off + 1] = vi;
        } else {
            dst[off] = vr;
        }
        for (int j = 0; j < rank; j++) {
            off += stride[j];
            if (++idx[j] < dims[j])
                break;
            off -= stride[j] * (long)dims[j];
            idx[j] = 0;
        }
    }
}

/* Reads numeric variable v (from Mat_VarReadInfo) into dst through place_linear, in
 * chunks, converted to single by matio:
 *  - v7.3: hyperslabs of whole slices of the last MATLAB dimension (HDF5 selections);
 *  - v5/v4: linear element ranges (matio 1.5's N-D Mat_VarReadData returns wrongly
 *    ordered data for v5 arrays of rank > 2; the linear reader is right), and one
 *    range for a compressed variable, which matio would inflate again from its start
 *    for every chunk. */
static int read_numeric(reader *rd, matvar_t *v, const char *what, const long *stride,
                        int cplx_dst, float *dst)
{
    int rank = v->rank;
    if (rank > 16)
        return invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: %s has rank %d", rd->path, what,
                                rank);
    size_t total = numel(v);
    if (total > INT_MAX)
        return invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: %s is too large (%zu values)",
                                rd->path, what, total);
    size_t last = v->dims[rank - 1];
    size_t inner = total / last;
    size_t chunk; /* elements per read */
    if (rd->version == 73) {
        size_t slab = inner >= (size_t)CHUNK_VALUES ? 1 : (size_t)CHUNK_VALUES / inner;
        chunk = (slab > last ? last : slab) * inner;
    } else if (v->compression != MAT_COMPRESSION_NONE) {
        chunk = total;
    } else {
        chunk = total < (size_t)CHUNK_VALUES ? total : (size_t)CHUNK_VALUES;
    }
    int cplx = v->isComplex != 0;
    float *re = malloc(sizeof(float) * chunk);
    float *im = cplx ? malloc(sizeof(float) * chunk) : NULL;
    if (!re || (cplx && !im)) {
        free(re);
        free(im);
        return invcsi_error_set(rd->err, INVCSI_ENOMEM, "%s: out of memory reading %s",
                                rd->path, what);
    }
    /* matio converts to the class asked for: read single whatever the file holds. */
    v->class_type = MAT_C_SINGLE;
    int rc = INVCSI_OK;
    int start[16], stridev[16], edge[16];
    for (int j = 0; j < rank; j++) {
        start[j] = 0;
        stridev[j] = 1;
        edge[j] = (int)v->dims[j];
    }
    mat_complex_split_t z = {re, im};
    void *buf = cplx ? (void *)&z : (void *)re;
    for (size_t e0 = 0; e0 < total; e0 += chunk) {
        size_t cnt = total - e0 < chunk ? total - e0 : chunk;
        int e;
        if (rd->version == 73) {
            start[rank - 1] = (int)(e0 / inner);
            edge[rank - 1] = (int)(cnt / inner);
            e = Mat_VarReadData(rd->mat, v, buf, start, stridev, edge);
        } else {
            e = Mat_VarReadDataLinear(rd->mat, v, buf, (int)e0, 1, (int)cnt);
        }
        if (e != 0) {
            rc = invcsi_error_set(rd->err, INVCSI_EFORMAT,
                                  "%s: cannot read the data of %s (damaged or truncated "
                                  "file?)%s%s", rd->path, what, mat_last_log[0] ? ": " : "",
                                  mat_last_log);
            break;
        }
        place_linear(re, im, 0, v->dims, rank, e0, cnt, stride, cplx_dst, dst);
    }
    free(re);
    free(im);
    return rc;
}

/* First non-finite value among count values of dst; -1 if none. */
static long first_nonfinite(const float *x, long count)
{
    for (long i = 0; i < count; i++)
        if (!isfinite(x[i]))
            return i;
    return -1;
}

static int check_finite_h(reader *rd, const invcsi_channels *c, const char *what)
{
    long len = invcsi_channels_sample_len(c);
    long bad = first_nonfinite(c->h, 2 * c->n * len);
    if (bad < 0)
        return INVCSI_OK;
    long e = bad / 2, i = e / len, rem = e % len;
    int k = (int)(rem % c->nc), t = (int)((rem / c->nc) % c->nt), r = (int)(rem / c->nc / c->nt);
    return invcsi_error_set(rd->err, INVCSI_EFORMAT,
                            "%s: %s holds a non-finite value (%s part of sample %ld, r %d t %d "
                            "k %d is %g)", rd->path, what, bad % 2 ? "imaginary" : "real", i, r,
                            t, k, (double)c->h[bad]);
}

/* Scalar of any numeric class from an in-memory variable (a struct field). */
static int get_double(const matvar_t *f, double *out)
{
    if (!f || !f->data || numel(f) < 1 || f->isComplex)
        return -1;
    switch (f->class_type) {
    case MAT_C_DOUBLE: *out = *(const double *)f->data; return 0;
    case MAT_C_SINGLE: *out = *(const float *)f->data; return 0;
    case MAT_C_INT8: *out = *(const int8_t *)f->data; return 0;
    case MAT_C_UINT8: *out = *(const uint8_t *)f->data; return 0;
    case MAT_C_INT16: *out = *(const int16_t *)f->data; return 0;
    case MAT_C_UINT16: *out = *(const uint16_t *)f->data; return 0;
    case MAT_C_INT32: *out = *(const int32_t *)f->data; return 0;
    case MAT_C_UINT32: *out = *(const uint32_t *)f->data; return 0;
    case MAT_C_INT64: *out = (double)*(const int64_t *)f->data; return 0;
    case MAT_C_UINT64: *out = (double)*(const uint64_t *)f->data; return 0;
    default: return -1;
    }
}

/* Char array as ASCII (code units of 1, 2 or 4 bytes). */
static void get_string(const matvar_t *f, char *out, size_t cap)
{
    out[0] = '\0';
    if (!f || f->class_type != MAT_C_CHAR || !f->data || cap == 0)
        return;
    size_t n = numel(f), w = f->data_size > 0 ? (size_t)f->data_size : 1, o = 0;
    if (w != 1 && w != 2 && w != 4)
        return;
    if (f->nbytes && n * w > f->nbytes)
        n = f->nbytes / w;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        unsigned long ch = w == 1 ? ((const unsigned char *)f->data)[i]
                         : w == 2 ? ((const uint16_t *)f->data)[i]
                                  : ((const uint32_t *)f->data)[i];
        out[o++] = (ch >= 32 && ch < 127) ? (char)ch : '?';
    }
    out[o] = '\0';
}

typedef struct var_list {
    int count;
    char names[MAX_LISTED_VARS][40];
    char listing[400];
    int has_h, has_config, has_channels, has_channel, has_deepmimo, has_ht;
    char pos_name[16];
} var_list;

static void list_variables(reader *rd, var_list *vl)
{
    memset(vl, 0, sizeof *vl);
    size_t o = 0;
    matvar_t *v;
    Mat_Rewind(rd->mat);
    while ((v = Mat_VarReadNextInfo(rd->mat)) != NULL) {
        const char *nm = v->name ? v->name : "?";
        if (!strcmp(nm, "H")) vl->has_h = 1;
        else if (!strcmp(nm, "config")) vl->has_config = 1;
        else if (!strcmp(nm, "channels")) vl->has_channels = 1;
        else if (!strcmp(nm, "channel")) vl->has_channel = 1;
        else if (!strcmp(nm, "DeepMIMO_dataset")) vl->has_deepmimo = 1;
        else if (!strcmp(nm, "HT")) vl->has_ht = 1;
        else if (!vl->pos_name[0] && (!strcmp(nm, "location") || !strcmp(nm, "loc") ||
                                      !strcmp(nm, "rx_loc")))
            snprintf(vl->pos_name, sizeof vl->pos_name, "%s", nm);
        if (vl->count < MAX_LISTED_VARS && o < sizeof vl->listing) {
            o += snprintf(vl->listing + o, sizeof vl->listing - o, "%s%s (%s", vl->count ? ", " : "",
                          nm, class_name(v->class_type));
            for (int i = 0; i < v->rank && o < sizeof vl->listing; i++)
                o += snprintf(vl->listing + o, sizeof vl->listing - o, "%s%zu", i ? "x" : " ",
                              v->dims[i]);
            if (o < sizeof vl->listing)
                o += snprintf(vl->listing + o, sizeof vl->listing - o, ")");
        } else if (vl->count == MAX_LISTED_VARS && o < sizeof vl->listing) {
            o += snprintf(vl->listing + o, sizeof vl->listing - o, ", ...");
        }
        vl->count++;
        Mat_VarFree(v);
    }
}

/* dims padded with trailing ones to 4 (MATLAB drops trailing singleton dimensions). */
static int dims4(const matvar_t *v, size_t d[4])
{
    if (v->rank > 4)
        return -1;
    for (int i = 0; i < 4; i++)
        d[i] = i < v->rank ? v->dims[i] : 1;
    return 0;
}

static int alloc_set(reader *rd, invcsi_channels *c, size_t n, size_t nr, size_t nt, size_t nc)
{
    if (n > INT_MAX || nr > INT_MAX || nt > INT_MAX || nc > INT_MAX)
        return invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: channel set too large", rd->path);
    int rc = invcsi_channels_alloc(c, (int)n, (int)nr, (int)nt, (int)nc, rd->err);
    if (rc != INVCSI_OK && rd->err) {
        char tmp[INVCSI_ERROR_MSG_LEN];
        snprintf(tmp, sizeof tmp, "%s", rd->err->msg);
        invcsi_error_set(rd->err, rc, "%s: %s", rd->path, tmp);
    }
    return rc;
}

/* Strides for a 4-D complex array into H[n][r][t][k]; reversed = MATLAB [nc nt nr n]
 * (h5py order), otherwise MATLAB [n nr nt nc] (scipy order). */
static void h_strides(int reversed, const invcsi_channels *c, long s[4])
{
    long k = 1, t = c->nc, r = (long)c->nt * c->nc, i = (long)c->nr * c->nt * c->nc;
    if (reversed) {
        s[0] = k; s[1] = t; s[2] = r; s[3] = i;
    } else {
        s[0] = i; s[1] = r; s[2] = t; s[3] = k;
    }
}

/* Optional positions variable, n x 3 in either orientation. */
static int read_positions(reader *rd, invcsi_channels *c, const char *name)
{
    matvar_t *v = Mat_VarReadInfo(rd->mat, name);
    if (!v)
        return INVCSI_OK;
    char what[64], d[160];
    snprintf(what, sizeof what, "variable '%s'", name);
    int rc = check_numeric(rd, v, what, 0, 0);
    long stride[2];
    if (rc == INVCSI_OK) {
        int as_cols = v->rank == 2 && v->dims[0] == 3 && v->dims[1] == (size_t)c->n;
        int as_rows = v->rank == 2 && v->dims[0] == (size_t)c->n && v->dims[1] == 3;
        if (as_cols && as_rows) /* n == 3: follow the reader's convention */
            as_cols = rd->version == 73;
        if (as_cols) {
            stride[0] = 1; stride[1] = 3;
        } else if (as_rows) {
            stride[0] = 3; stride[1] = 1;
        } else {
            rc = invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: %s has %s; expected %d x 3 "
                                  "positions", rd->path, what, describe_dims(rd, v, d, sizeof d),
                                  c->n);
        }
    }
    if (rc == INVCSI_OK) {
        c->pos = malloc(sizeof(float) * 3 * (size_t)c->n);
        if (!c->pos)
            rc = invcsi_error_set(rd->err, INVCSI_ENOMEM, "%s: out of memory", rd->path);
    }
    if (rc == INVCSI_OK)
        rc = read_numeric(rd, v, what, stride, 0, c->pos);
    if (rc == INVCSI_OK && first_nonfinite(c->pos, 3L * c->n) >= 0)
        rc = invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: %s holds NaN or Inf", rd->path,
                              what);
    Mat_VarFree(v);
    return rc;
}

/* ---- kind "invcsi": H + config ---- */
static int read_invcsi(reader *rd, const var_list *vl, invcsi_channels *c, invcsi_mat_info *info)
{
    if (!vl->has_config)
        return invcsi_error_set(rd->err, INVCSI_EFORMAT,
                                "%s: variable 'H' found but the 'config' struct is missing "
                                "(an invcsi file has both)", rd->path);
    matvar_t *cfgv = Mat_VarRead(rd->mat, "config");
    if (!cfgv)
        return invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: cannot read variable 'config' (damaged "
                                "file?)%s%s",
                                rd->path, mat_last_log[0] ? ": " : "", mat_last_log);
    int rc = INVCSI_OK;
    invcsi_channel_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.k_factor_db = NAN;
    double nr = 0, nt = 0, nc = 0, fv = 0;
    if (cfgv->class_type != MAT_C_STRUCT) {
        rc = invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: 'config' has class %s; expected "
                              "struct", rd->path, class_name(cfgv->class_type));
    } else {
        const char *need[3] = {"nr", "nt", "nc"};
        double *dst[3] = {&nr, &nt, &nc};
        for (int i = 0; i < 3 && rc == INVCSI_OK; i++) {
            matvar_t *f = Mat_VarGetStructFieldByName(cfgv, need[i], 0);
            if (!f)
                rc = invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: config.%s is missing",
                                      rd->path, need[i]);
            else if (get_double(f, dst[i]) != 0 || !(*dst[i] >= 1 && *dst[i] <= INT_MAX) ||
                     *dst[i] != floor(*dst[i]))
                rc = invcsi_error_set(rd->err, INVCSI_EFORMAT,
                                      "%s: config.%s is not a positive integer", rd->path,
                                      need[i]);
        }
        /* Optional fields keep their defaults when absent or unreadable. */
        get_string(Mat_VarGetStructFieldByName(cfgv, "model", 0), cfg.model, sizeof cfg.model);
        if (!cfg.model[0])
            snprintf(cfg.model, sizeof cfg.model, "unknown");
        get_double(Mat_VarGetStructFieldByName(cfgv, "fc_ghz", 0), &cfg.fc_ghz);
        get_double(Mat_VarGetStructFieldByName(cfgv, "bw_mhz", 0), &cfg.bw_mhz);
        get_double(Mat_VarGetStructFieldByName(cfgv, "ds_ns", 0), &cfg.ds_ns);
        get_double(Mat_VarGetStructFieldByName(cfgv, "ds_lgstd", 0), &cfg.ds_lgstd);
        get_double(Mat_VarGetStructFieldByName(cfgv, "k_factor_db", 0), &cfg.k_factor_db);
        get_double(Mat_VarGetStructFieldByName(cfgv, "format_version", 0), &fv);
        matvar_t *sf = Mat_VarGetStructFieldByName(cfgv, "seed", 0);
        if (sf && sf->class_type == MAT_C_UINT64 && sf->data && numel(sf) >= 1) {
            cfg.seed = *(const uint64_t *)sf->data;
        } else {
            double s = 0;
            if (get_double(sf, &s) == 0 && s >= 0)
                cfg.seed = (uint64_t)s;
        }
        if (info) {
            info->format_version = (int)fv;
            get_string(Mat_VarGetStructFieldByName(cfgv, "command", 0), info->command,
                       sizeof info->command);
        }
    }
    Mat_VarFree(cfgv);
    if (rc != INVCSI_OK)
        return rc;
    if (fv > INVCSI_MAT_FORMAT_VERSION)
        return invcsi_error_set(rd->err, INVCSI_EFORMAT,
                                "%s: config.format_version %g is newer than this reader (%d)",
                                rd->path, fv, INVCSI_MAT_FORMAT_VERSION);

    matvar_t *v = Mat_VarReadInfo(rd->mat, "H");
    if (!v)
        return invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: cannot read variable 'H'",
                                rd->path);
    char d[160];
    size_t D[4];
    rc = check_numeric(rd, v, "variable 'H'", 1, 1);
    int reversed = -1;
    if (rc == INVCSI_OK) {
        if (dims4(v, D) != 0) {
            rc = invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: variable 'H' has rank %d (%s); "
                                  "expected 4-D (n, nr, nt, nc)", rd->path, v->rank,
                                  describe_dims(rd, v, d, sizeof d));
        } else {
            int rev_ok = D[0] == nc && D[1] == nt && D[2] == nr;
            int same_ok = D[1] == nr && D[2] == nt && D[3] == nc;
            if (rev_ok && same_ok)
                reversed = rd->version == 73;
            else if (rev_ok || same_ok)
                reversed = rev_ok;
            else
                rc = invcsi_error_set(rd->err, INVCSI_EFORMAT,
                                      "%s: variable 'H' has %s but config says nr=%g nt=%g "
                                      "nc=%g (expected MATLAB size nc x nt x nr x n)", rd->path,
                                      describe_dims(rd, v, d, sizeof d), nr, nt, nc);
        }
    }
    if (rc == INVCSI_OK)
        rc = alloc_set(rd, c, reversed ? D[3] : D[0], (size_t)nr, (size_t)nt, (size_t)nc);
    if (rc == INVCSI_OK) {
        long s[4];
        h_strides(reversed, c, s);
        rc = read_numeric(rd, v, "variable 'H'", s, 1, c->h);
    }
    Mat_VarFree(v);
    if (rc == INVCSI_OK)
        rc = check_finite_h(rd, c, "variable 'H'");
    if (rc == INVCSI_OK)
        rc = read_positions(rd, c, "pos"); /* optional */
    if (rc != INVCSI_OK)
        return rc;
    cfg.nr = c->nr;
    cfg.nt = c->nt;
    cfg.nc = c->nc;
    c->cfg = cfg;
    if (info) {
        snprintf(info->kind, sizeof info->kind, "invcsi");
        snprintf(info->variable, sizeof info->variable, "H");
    }
    return INVCSI_OK;
}

/* ---- kind "deepmimo": a channels/channel array ---- */
static int read_deepmimo_array(reader *rd, const var_list *vl, const char *name,
                               invcsi_channels *c, invcsi_mat_info *info)
{
    char what[64], d[160];
    snprintf(what, sizeof what, "variable '%s'", name);
    matvar_t *v = Mat_VarReadInfo(rd->mat, name);
    if (!v)
        return invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: cannot read %s", rd->path, what);
    /* DeepMIMO channels are complex; a real array (e.g. all paths blocked, saved real)
     * is accepted with zero imaginary parts. */
    int rc = check_numeric(rd, v, what, 0, 1);
    size_t D[4];
    int reversed = rd->version == 73;
    if (rc == INVCSI_OK && dims4(v, D) != 0)
        rc = invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: %s has rank %d (%s); expected 4-D "
                              "(users, nr, nt, nc)", rd->path, what, v->rank,
                              describe_dims(rd, v, d, sizeof d));
    if (rc == INVCSI_OK) {
        if (reversed)
            rc = alloc_set(rd, c, D[3], D[2], D[1], D[0]);
        else
            rc = alloc_set(rd, c, D[0], D[1], D[2], D[3]);
    }
    if (rc == INVCSI_OK) {
        long s[4];
        h_strides(reversed, c, s);
        rc = read_numeric(rd, v, what, s, 1, c->h);
    }
    Mat_VarFree(v);
    if (rc == INVCSI_OK)
        rc = check_finite_h(rd, c, what);
    if (rc == INVCSI_OK && vl->pos_name[0])
        rc = read_positions(rd, c, vl->pos_name);
    if (rc != INVCSI_OK)
        return rc;
    snprintf(c->cfg.model, sizeof c->cfg.model, "deepmimo");
    if (info) {
        snprintf(info->kind, sizeof info->kind, "deepmimo");
        snprintf(info->variable, sizeof info->variable, "%s", name);
    }
    return INVCSI_OK;
}

/* ---- kind "deepmimo-v2": DeepMIMO_dataset{1}.user{u}.channel ---- */
static int read_deepmimo_v2(reader *rd, invcsi_channels *c, invcsi_mat_info *info)
{
    const char *path = rd->path;
    invcsi_error *err = rd->err;
    matvar_t *top = Mat_VarRead(rd->mat, "DeepMIMO_dataset");
    if (!top)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: cannot read variable 'DeepMIMO_dataset'%s%s", path,
                                mat_last_log[0] ? ": " : "", mat_last_log);
    int rc = INVCSI_OK;
    char d[160];
    matvar_t *bs = top;
    if (top->class_type == MAT_C_CELL) {
        bs = numel(top) > 0 ? Mat_VarGetCell(top, 0) : NULL;
    }
    matvar_t *users = NULL;
    if (!bs || bs->class_type != MAT_C_STRUCT)
        rc = invcsi_error_set(err, INVCSI_EFORMAT,
                              "%s: DeepMIMO_dataset{1} is %s; expected a struct with field "
                              "'user'", path, bs ? class_name(bs->class_type) : "missing");
    else if (!(users = Mat_VarGetStructFieldByName(bs, "user", 0)) ||
             users->class_type != MAT_C_CELL || numel(users) == 0)
        rc = invcsi_error_set(err, INVCSI_EFORMAT,
                              "%s: DeepMIMO_dataset{1}.user is %s; expected a non-empty cell "
                              "array of user structs", path,
                              users ? class_name(users->class_type) : "missing");
    size_t nu = rc == INVCSI_OK ? numel(users) : 0;
    size_t nr = 0, nt = 0, nk = 0;
    int have_loc = 1;
    for (size_t u = 0; u < nu && rc == INVCSI_OK; u++) {
        matvar_t *us = Mat_VarGetCell(users, (int)u);
        matvar_t *ch = us && us->class_type == MAT_C_STRUCT
                           ? Mat_VarGetStructFieldByName(us, "channel", 0) : NULL;
        if (!ch) {
            rc = invcsi_error_set(err, INVCSI_EFORMAT,
                                  "%s: DeepMIMO_dataset{1}.user{%zu}.channel is missing", path,
                                  u + 1);
            break;
        }
        char what[80];
        snprintf(what, sizeof what, "DeepMIMO_dataset{1}.user{%zu}.channel", u + 1);
        rc = check_numeric(rd, ch, what, 0, 1);
        if (rc != INVCSI_OK)
            break;
        if (ch->rank > 3 || !ch->data) {
            rc = invcsi_error_set(err, INVCSI_EFORMAT, "%s: %s has %s; expected nr x nt x K",
                                  path, what, describe_dims(rd, ch, d, sizeof d));
            break;
        }
        /* 3-D: DeepMIMO v2 (nr x nt x K); 2-D: v1 (nt x K, one receive antenna). */
        size_t r_ = ch->rank == 3 ? ch->dims[0] : 1;
        size_t t_ = ch->rank == 3 ? ch->dims[1] : ch->dims[0];
        size_t k_ = ch->rank == 3 ? ch->dims[2] : ch->dims[1];
        if (u == 0) {
            nr = r_; nt = t_; nk = k_;
            if ((rc = alloc_set(rd, c, nu, nr, nt, nk)) != INVCSI_OK)
                break;
        } else if (r_ != nr || t_ != nt || k_ != nk) {
            rc = invcsi_error_set(err, INVCSI_EFORMAT, "%s: %s has %s; user 1 has %zux%zux%zu",
                                  path, what, describe_dims(rd, ch, d, sizeof d), nr, nt, nk);
            break;
        }
        long s[3] = {(long)(nt * nk), (long)nk, 1};
        size_t dd[3] = {r_, t_, k_};
        const mat_complex_split_t *z = ch->data;
        const void *re = ch->isComplex ? z->Re : ch->data;
        const void *im = ch->isComplex ? z->Im : NULL;
        place_linear(re, im, ch->class_type == MAT_C_DOUBLE, dd, 3, 0, r_ * t_ * k_, s, 1,
                    c->h + 2 * (long)u * (long)(nr * nt * nk));
        matvar_t *loc = Mat_VarGetStructFieldByName(us, "loc", 0);
        if (!loc || !loc->data || numel(loc) < 3 || loc->isComplex ||
            (loc->class_type != MAT_C_DOUBLE && loc->class_type != MAT_C_SINGLE)) {
            have_loc = 0;
        } else {
            if (!c->pos && !(c->pos = calloc(3 * nu, sizeof(float)))) {
                rc = invcsi_error_set(err, INVCSI_ENOMEM, "%s: out of memory", path);
                break;
            }
            for (int j = 0; j < 3; j++)
                c->pos[3 * u + j] = loc->class_type == MAT_C_DOUBLE
                                        ? (float)((const double *)loc->data)[j]
                                        : ((const float *)loc->data)[j];
        }
    }
    Mat_VarFree(top);
    if (rc == INVCSI_OK && (!have_loc || (c->pos && first_nonfinite(c->pos, 3L * c->n) >= 0))) {
        free(c->pos); /* positions are all or nothing */
        c->pos = NULL;
    }
    if (rc == INVCSI_OK)
        rc = check_finite_h(rd, c, "DeepMIMO_dataset{1}.user{..}.channel");
    if (rc != INVCSI_OK)
        return rc;
    snprintf(c->cfg.model, sizeof c->cfg.model, "deepmimo");
    if (info) {
        snprintf(info->kind, sizeof info->kind, "deepmimo-v2");
        snprintf(info->variable, sizeof info->variable, "DeepMIMO_dataset");
    }
    return INVCSI_OK;
}

/* ---- kind "cost2100": CsiNet's HT ---- */
#define COST_NT 32
#define COST_NC 32
#define COST_LEN (2 * COST_NT * COST_NC)

static int read_cost2100(reader *rd, invcsi_channels *c, invcsi_mat_info *info)
{
    char d[160];
    matvar_t *v = Mat_VarReadInfo(rd->mat, "HT");
    if (!v)
        return invcsi_error_set(rd->err, INVCSI_EFORMAT, "%s: cannot read variable 'HT'",
                                rd->path);
    int rc = check_numeric(rd, v, "variable 'HT'", 0, 0);
    long stride[2];
    size_t n = 0;
    if (rc == INVCSI_OK) {
        /* MATLAB N x 2048 (CsiNet's files, scipy) or 2048 x N (h5py-written N x 2048). */
        if (v->rank == 2 && v->dims[1] == COST_LEN) {
            n = v->dims[0];
            stride[0] = COST_LEN;
            stride[1] = 1;
        } else if (v->rank == 2 && v->dims[0] == COST_LEN) {
            n = v->dims[1];
            stride[0] = 1;
            stride[1] = COST_LEN;
        } else {
            rc = invcsi_error_set(rd->err, INVCSI_EFORMAT,
                                  "%s: variable 'HT' has %s; expected N x %d (CsiNet/COST2100: "
                                  "2 x %d x %d per row)", rd->path,
                                  describe_dims(rd, v, d, sizeof d), COST_LEN, COST_NT, COST_NC);
        }
    }
    /* The angular-delay images are read into c->h (same size as the result), checked,
     * and transformed chunk by chunk through a small scratch buffer. */
    if (rc == INVCSI_OK)
        rc = alloc_set(rd, c, n, 1, COST_NT, COST_NC);
    if (rc == INVCSI_OK)
        rc = read_numeric(rd, v, "variable 'HT'", stride, 0, c->h);
    Mat_VarFree(v);
    if (rc != INVCSI_OK)
        return rc;
    long total = (long)n * COST_LEN;
    long bad = first_nonfinite(c->h, total);
    if (bad >= 0)
        return invcsi_error_set(rd->err, INVCSI_EFORMAT,
                                "%s: variable 'HT' holds a non-finite value (row %ld, column "
                                "%ld is %g)", rd->path, bad / COST_LEN, bad % COST_LEN,
                                (double)c->h[bad]);
    for (long i = 0; i < total; i++)
        if (c->h[i] < -1e-6f || c->h[i] > 1.0f + 1e-6f)
            return invcsi_error_set(rd->err, INVCSI_EFORMAT,
                                    "%s: variable 'HT' value %g at row %ld, column %ld is "
                                    "outside [0, 1] (CsiNet stores the image + 0.5, scaled "
                                    "into [0, 1])", rd->path, (double)c->h[i], i / COST_LEN,
                                    i % COST_LEN);
    invcsi_dft *dft = NULL;
    if ((rc = invcsi_dft_create(&dft, 1, COST_NT, COST_NC, rd->err)) != INVCSI_OK)
        return rc;
    const long chunk = 256;
    float *x = malloc(sizeof(float) * chunk * COST_LEN);
    if (!x) {
        invcsi_dft_destroy(dft);
        return invcsi_error_set(rd->err, INVCSI_ENOMEM, "%s: out of memory", rd->path);
    }
    for (long i0 = 0; i0 < (long)n; i0 += chunk) {
        long cnt = (long)n - i0 < chunk ? (long)n - i0 : chunk;
        float *h = c->h + i0 * COST_LEN;
        for (long j = 0; j < cnt * COST_LEN; j++)
            x[j] = h[j] - 0.5f;
        invcsi_dft_inverse(dft, x, h, cnt);
    }
    free(x);
    invcsi_dft_destroy(dft);
    snprintf(c->cfg.model, sizeof c->cfg.model, "cost2100");
    if (info) {
        snprintf(info->kind, sizeof info->kind, "cost2100");
        snprintf(info->variable, sizeof info->variable, "HT");
    }
    return INVCSI_OK;
}

int invcsi_mat_read_channels_info(const char *path, invcsi_channels *c, invcsi_mat_info *info,
                                  invcsi_error *err)
{
    if (!c)
        return invcsi_error_set(err, INVCSI_EINVAL, "invcsi_mat_read_channels: no output set");
    memset(c, 0, sizeof *c);
    if (info)
        memset(info, 0, sizeof *info);
    if (!path || !*path)
        return invcsi_error_set(err, INVCSI_EINVAL, "invcsi_mat_read_channels: no input path");
    reader rd = {.path = path, .mat = NULL, .version = 0, .err = err};
    mat_guard g;
    mat_enter(&g);
    int rc = open_checked(&rd);
    if (rc == INVCSI_OK) {
        var_list vl;
        list_variables(&rd, &vl);
        if (vl.count == 0)
            rc = invcsi_error_set(err, INVCSI_EFORMAT, "%s: MAT v%s file with no readable "
                                  "variables (empty, damaged or truncated)", path,
                                  rd.version == 73 ? "7.3" : rd.version == 5 ? "5" : "4");
        else if (vl.has_h)
            rc = read_invcsi(&rd, &vl, c, info);
        else if (vl.has_channels || vl.has_channel)
            rc = read_deepmimo_array(&rd, &vl, vl.has_channels ? "channels" : "channel", c,
                                     info);
        else if (vl.has_deepmimo)
            rc = read_deepmimo_v2(&rd, c, info);
        else if (vl.has_ht)
            rc = read_cost2100(&rd, c, info);
        else
            rc = invcsi_error_set(err, INVCSI_EFORMAT,
                                  "%s: no channel variable: expected H + config (invcsi-gen), "
                                  "channels or channel (DeepMIMO), DeepMIMO_dataset (DeepMIMO "
                                  "v2) or HT (CsiNet/COST2100); found %s", path, vl.listing);
        if (info)
            info->mat_version = rd.version;
    }
    if (rd.mat)
        Mat_Close(rd.mat);
    mat_leave(&g);
    if (rc != INVCSI_OK) {
        invcsi_channels_free(c);
        memset(c, 0, sizeof *c);
    }
    return rc;
}

int invcsi_mat_read_channels(const char *path, invcsi_channels *c, invcsi_error *err)
{
    return invcsi_mat_read_channels_info(path, c, NULL, err);
}

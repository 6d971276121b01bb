/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * safetensors weights files.
 *
 *   test_safetensors               self checks (ctest): round trip, every corrupt case,
 *                                  shape mismatches against a parameter table
 *   test_safetensors --write PATH  writes the known file that test_safetensors_numpy.py
 *                                  parses by hand with numpy
 *   test_safetensors --read PATH   loads PATH and prints, as JSON, each tensor's shape and
 *                                  FNV-1a 64 hash of its bytes plus the metadata (exit 2
 *                                  and the error on stderr if the file is refused)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "invcsi/json.h"
#include "invcsi/params.h"
#include "invcsi/rng.h"
#include "invcsi/safetensors.h"

/* ---------------------------------------------------------------------------------- */
/* The known file shared with tests/test_safetensors_numpy.py (keep both in step).    */
/* ---------------------------------------------------------------------------------- */

static const char *KNOWN_CONFIG =
    "{\"model\": \"invcsinet\", \"nt\": 32, \"nc\": 32, \"cr\": \"1/16\", "
    "\"note\": \"quote \\\" backslash \\\\ newline \\n\"}";
static const char *KNOWN_NORM = "power=1.2345e-3";
static const char *KNOWN_COMMAND = "invcsi-train --cr 1/16 --out \"w.safetensors\"\tx";
static const char *KNOWN_UNICODE = "\xc3\x85ngstr\xc3\xb6m \xe2\x9c\x93 \xf0\x9f\x98\x80";

static const uint32_t KNOWN_SPECIAL_BITS[6] = {0x00000000u, 0x80000000u, 0x00000001u,
                                               0x7f7fffffu, 0xff800000u, 0x7fc00001u};

static int build_known(invcsi_params *p, invcsi_error *err)
{
    invcsi_params_init(p);
    int rc = invcsi_params_add(p, "inn.0.phi.weight", 4, (int[]){4, 3, 3, 3}, NULL, err);
    if (!rc) rc = invcsi_params_add(p, "inn.0.phi.bias", 1, (int[]){4}, NULL, err);
    if (!rc) rc = invcsi_params_add(p, "daq.levels", 2, (int[]){2, 3}, NULL, err);
    if (!rc) rc = invcsi_params_add(p, "scale", 0, NULL, NULL, err);
    if (!rc) rc = invcsi_params_finalize(p, err);
    if (rc)
        return rc;
    float *w = invcsi_params_data(p, "inn.0.phi.weight");
    for (int k = 0; k < 108; k++)
        w[k] = (float)(k % 29 - 14) / 8.0f;
    float *b = invcsi_params_data(p, "inn.0.phi.bias");
    for (int k = 0; k < 4; k++)
        b[k] = (float)k * 0.25f - 0.5f;
    memcpy(invcsi_params_data(p, "daq.levels"), KNOWN_SPECIAL_BITS, sizeof KNOWN_SPECIAL_BITS);
    *invcsi_params_data(p, "scale") = 3.14159274f;
    return INVCSI_OK;
}

static const invcsi_st_kv KNOWN_META[] = {
    {"config", NULL}, {"normalisation", NULL}, {"command", NULL}, {"unicode \xe2\x9c\x93", NULL}};

static void known_meta(invcsi_st_kv meta[4])
{
    memcpy(meta, KNOWN_META, sizeof KNOWN_META);
    meta[0].value = KNOWN_CONFIG;
    meta[1].value = KNOWN_NORM;
    meta[2].value = KNOWN_COMMAND;
    meta[3].value = KNOWN_UNICODE;
}

static int write_known(const char *path)
{
    invcsi_params p;
    invcsi_error err;
    invcsi_st_kv meta[4];
    known_meta(meta);
    int rc = build_known(&p, &err);
    if (!rc)
        rc = invcsi_params_save(&p, path, meta, 4, &err);
    invcsi_params_free(&p);
    if (rc) {
        fprintf(stderr, "test_safetensors --write: %s\n", err.msg);
        return 2;
    }
    return 0;
}

static uint64_t fnv1a64(const void *data, size_t n)
{
    const unsigned char *b = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static int read_and_print(const char *path)
{
    invcsi_safetensors f;
    invcsi_error err;
    if (invcsi_safetensors_load(path, &f, &err) != INVCSI_OK) {
        fprintf(stderr, "test_safetensors --read: %s\n", err.msg);
        return 2;
    }
    invcsi_json_writer w;
    invcsi_jw_init(&w);
    invcsi_jw_object_begin(&w);
    invcsi_jw_key(&w, "tensors");
    invcsi_jw_object_begin(&w);
    for (int i = 0; i < f.n_tensors; i++) {
        const invcsi_st_tensor *t = &f.tensors[i];
        char hash[24];
        snprintf(hash, sizeof hash, "%016" PRIx64, fnv1a64(t->bytes, (size_t)(t->end - t->begin)));
        invcsi_jw_key(&w, t->name);
        invcsi_jw_object_begin(&w);
        invcsi_jw_key(&w, "shape");
        invcsi_jw_array_begin(&w);
        for (int d = 0; d < t->rank; d++)
            invcsi_jw_integer(&w, t->shape[d]);
        invcsi_jw_array_end(&w);
        invcsi_jw_key(&w, "fnv1a64");
        invcsi_jw_string(&w, hash);
        invcsi_jw_key(&w, "count");
        invcsi_jw_integer(&w, (int64_t)t->count);
        invcsi_jw_object_end(&w);
    }
    invcsi_jw_object_end(&w);
    invcsi_jw_key(&w, "metadata");
    invcsi_jw_object_begin(&w);
    for (int i = 0; i < f.n_meta; i++) {
        invcsi_jw_key(&w, f.meta[i].key);
        invcsi_jw_string(&w, f.meta[i].value);
    }
    invcsi_jw_object_end(&w);
    invcsi_jw_object_end(&w);
    const char *text;
    size_t len;
    int rc = invcsi_jw_finish(&w, &text, &len, &err);
    if (rc == INVCSI_OK)
        printf("%s\n", text);
    else
        fprintf(stderr, "test_safetensors --read: %s\n", err.msg);
    invcsi_jw_free(&w);
    invcsi_safetensors_free(&f);
    return rc == INVCSI_OK ? 0 : 2;
}

/* ---------------------------------------------------------------------------------- */
/* Self checks                                                                        */
/* ---------------------------------------------------------------------------------- */

static int write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t k = n ? fwrite(data, 1, n, f) : 0;
    fclose(f);
    return k == n ? 0 : -1;
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

/* A file from a header text and a data section (the header gets no padding). */
static int write_st(const char *path, const char *header, const void *data, size_t data_len)
{
    size_t hl = strlen(header);
    unsigned char *b = malloc(8 + hl + data_len);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    if (data_len)
        memcpy(b + 8 + hl, data, data_len);
    int rc = write_bytes(path, b, 8 + hl + data_len);
    free(b);
    return rc;
}

static void expect_refused(const char *path, const char *want, const char *what)
{
    invcsi_safetensors f;
    invcsi_error err;
    invcsi_error_clear(&err);
    int rc = invcsi_safetensors_load(path, &f, &err);
    CHECK(rc == INVCSI_EFORMAT, "%s: refused with EFORMAT (rc %d, %s)", what, rc, err.msg);
    CHECK(strstr(err.msg, path) != NULL, "%s: message names the file: %s", what, err.msg);
    CHECK(strstr(err.msg, want) != NULL, "%s: want '%s' in: %s", what, want, err.msg);
    CHECK(f.tensors == NULL && f.file_bytes == NULL && f.n_tensors == 0, "%s: file empty", what);
    invcsi_safetensors_free(&f);
}

static void test_round_trip(void)
{
    invcsi_params p;
    invcsi_error err;
    CHECK(build_known(&p, &err) == INVCSI_OK, "build: %s", err.msg);
    /* add random values to a larger table as well */
    invcsi_params q;
    invcsi_params_init(&q);
    int shapes[3][4] = {{24, 64, 3, 3}, {24, 1, 1, 1}, {128, 15, 1, 1}};
    const char *names[3] = {"inn.0.rho.conv.weight", "inn.0.rho.conv.bias", "daq.thresholds"};
    int ranks[3] = {4, 1, 2};
    for (int i = 0; i < 3; i++)
        invcsi_params_add(&q, names[i], ranks[i], shapes[i], NULL, &err);
    CHECK(invcsi_params_finalize(&q, &err) == INVCSI_OK, "finalize q");
    invcsi_rng rng;
    invcsi_rng_init(&rng, 7, 0);
    for (int i = 0; i < q.n_tensors; i++)
        for (size_t k = 0; k < q.tensors[i].count; k++)
            invcsi_tensor_data(&q, &q.tensors[i])[k] = (float)invcsi_rng_normal(&rng);

    invcsi_st_kv meta[4];
    known_meta(meta);
    const char *path = "model.safetensors";
    unlink(path);
    CHECK(invcsi_params_save(&p, path, meta, 4, &err) == INVCSI_OK, "save: %s", err.msg);
    CHECK(access("model.safetensors.tmp", F_OK) != 0, "no .tmp left behind");
    CHECK(invcsi_params_save(&q, "q.safetensors", meta, 2, &err) == INVCSI_OK, "save q: %s",
          err.msg);

    /* the layout on disk */
    size_t n;
    unsigned char *raw = read_bytes(path, &n);
    CHECK(raw && n > 8, "file read back");
    if (raw) {
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--)
            hl = (hl << 8) | raw[i];
        CHECK(hl % 8 == 0, "header length %" PRIu64 " padded to 8", hl);
        CHECK(raw[8] == '{', "header starts with '{'");
        size_t end = 8 + (size_t)hl;
        size_t last = end - 1;
        while (raw[last] == ' ')
            last--;
        CHECK(raw[last] == '}', "header padded with spaces only");
        size_t values = 108 + 4 + 6 + 1;
        CHECK(n == end + values * 4, "file size %zu = 8 + header + data (%zu)", n, end + values * 4);
        /* data in table order, raw float32 */
        CHECK(memcmp(raw + end, invcsi_params_data(&p, "inn.0.phi.weight"), 108 * 4) == 0,
              "first tensor bytes at data start");
        CHECK(memcmp(raw + n - 4, invcsi_params_data(&p, "scale"), 4) == 0, "last tensor last");
    }
    free(raw);

    /* read back: identical bytes and metadata */
    invcsi_safetensors f;
    CHECK(invcsi_safetensors_load(path, &f, &err) == INVCSI_OK, "load: %s", err.msg);
    CHECK(f.n_tensors == p.n_tensors, "tensor count");
    for (int i = 0; i < p.n_tensors; i++) {
        const invcsi_tensor *t = &p.tensors[i];
        const invcsi_st_tensor *ft = invcsi_safetensors_find(&f, t->name);
        CHECK(ft != NULL, "tensor %s in file", t->name);
        if (!ft)
            continue;
        CHECK(ft->rank == t->rank && ft->count == t->count, "tensor %s shape", t->name);
        for (int d = 0; d < t->rank; d++)
            CHECK(ft->shape[d] == t->shape[d], "tensor %s dim %d", t->name, d);
        CHECK(memcmp(ft->bytes, invcsi_tensor_data(&p, t), t->count * 4) == 0,
              "tensor %s identical bytes", t->name);
    }
    CHECK(f.n_meta == 4, "4 metadata entries");
    for (int i = 0; i < 4; i++) {
        const char *v = invcsi_safetensors_meta(&f, meta[i].key);
        CHECK(v && strcmp(v, meta[i].value) == 0, "metadata %s identical", meta[i].key);
    }
    CHECK(invcsi_safetensors_meta(&f, "absent") == NULL, "absent metadata");
    /* the config is JSON text inside a string */
    invcsi_json_doc cfg;
    CHECK(invcsi_json_parse(invcsi_safetensors_meta(&f, "config"),
                            strlen(invcsi_safetensors_meta(&f, "config")), &cfg, &err) ==
              INVCSI_OK,
          "config parses: %s", err.msg);
    int64_t nt = 0;
    CHECK(invcsi_json_get_int(cfg.root, "nt", &nt, &err) == INVCSI_OK && nt == 32, "config nt");
    invcsi_json_doc_free(&cfg);

    /* load into a fresh table of the same layout: identical values, special bits included */
    invcsi_params p2;
    invcsi_params_init(&p2);
    for (int i = 0; i < p.n_tensors; i++)
        invcsi_params_add(&p2, p.tensors[i].name, p.tensors[i].rank, p.tensors[i].shape, NULL,
                          &err);
    invcsi_params_finalize_inference(&p2, &err);
    CHECK(invcsi_params_load_from(&p2, &f, &err) == INVCSI_OK, "load_from: %s", err.msg);
    for (int i = 0; i < p.n_tensors; i++)
        CHECK(memcmp(invcsi_tensor_data(&p2, &p2.tensors[i]), invcsi_tensor_data(&p, &p.tensors[i]),
                     p.tensors[i].count * 4) == 0,
              "loaded %s identical", p.tensors[i].name);
    uint32_t bits[6];
    memcpy(bits, invcsi_params_data(&p2, "daq.levels"), sizeof bits);
    CHECK(memcmp(bits, KNOWN_SPECIAL_BITS, sizeof bits) == 0, "-0, denormal, inf, NaN payload kept");
    invcsi_safetensors_free(&f);

    /* the big random table through invcsi_params_load */
    invcsi_params q2;
    invcsi_params_init(&q2);
    for (int i = 0; i < 3; i++)
        invcsi_params_add(&q2, names[i], ranks[i], shapes[i], NULL, &err);
    invcsi_params_finalize(&q2, &err);
    CHECK(invcsi_params_load(&q2, "q.safetensors", &err) == INVCSI_OK, "params_load: %s", err.msg);
    CHECK(memcmp(q2.data, q.data, q.total * 4) == 0, "random table identical (whole buffer)");

    /* overwrite an existing file atomically */
    CHECK(invcsi_params_save(&q, path, NULL, 0, &err) == INVCSI_OK, "overwrite");
    CHECK(invcsi_safetensors_load(path, &f, &err) == INVCSI_OK && f.n_meta == 0 &&
              f.n_tensors == 3,
          "overwritten file has the new content");
    invcsi_safetensors_free(&f);

    /* from memory */
    raw = read_bytes("q.safetensors", &n);
    CHECK(invcsi_safetensors_parse(raw, n, "mem", &f, &err) == INVCSI_OK, "parse from memory");
    invcsi_safetensors_free(&f);
    CHECK(invcsi_safetensors_parse(raw, n - 1, "mem", &f, &err) == INVCSI_EFORMAT &&
              strstr(err.msg, "mem:"),
          "memory parse names the source: %s", err.msg);
    free(raw);

    invcsi_params_free(&p);
    invcsi_params_free(&p2);
    invcsi_params_free(&q);
    invcsi_params_free(&q2);
}

static void test_generic_writer(void)
{
    invcsi_error err;
    float one = 1.5f;
    int64_t zero_shape[2] = {0, 3};
    int64_t s2[1] = {2};
    float two[2] = {1, 2};
    invcsi_st_tensor_in t[3] = {
        {"scalar", 0, NULL, &one}, {"empty", 2, zero_shape, NULL}, {"pair", 1, s2, two}};
    CHECK(invcsi_safetensors_write("gen.safetensors", t, 3, NULL, 0, &err) == INVCSI_OK,
          "scalar + zero-size tensor: %s", err.msg);
    invcsi_safetensors f;
    CHECK(invcsi_safetensors_load("gen.safetensors", &f, &err) == INVCSI_OK, "load: %s", err.msg);
    const invcsi_st_tensor *e = invcsi_safetensors_find(&f, "empty");
    CHECK(e && e->count == 0 && e->rank == 2 && e->shape[0] == 0, "zero-size tensor");
    const invcsi_st_tensor *s = invcsi_safetensors_find(&f, "scalar");
    float v = 0;
    if (s)
        invcsi_safetensors_copy(s, &v);
    CHECK(s && s->rank == 0 && s->count == 1 && v == 1.5f, "scalar");
    invcsi_safetensors_free(&f);

    /* writer rejections leave nothing on disk */
    invcsi_st_tensor_in dup[2] = {{"a", 1, s2, two}, {"a", 1, s2, two}};
    CHECK(invcsi_safetensors_write("bad.safetensors", dup, 2, NULL, 0, &err) == INVCSI_EINVAL &&
              strstr(err.msg, "twice"),
          "duplicate names: %s", err.msg);
    invcsi_st_tensor_in reserved = {"__metadata__", 1, s2, two};
    CHECK(invcsi_safetensors_write("bad.safetensors", &reserved, 1, NULL, 0, &err) == INVCSI_EINVAL,
          "reserved name");
    invcsi_st_kv dupmeta[2] = {{"k", "1"}, {"k", "2"}};
    CHECK(invcsi_safetensors_write("bad.safetensors", t + 2, 1, dupmeta, 2, &err) == INVCSI_EINVAL,
          "duplicate metadata keys");
    invcsi_st_kv badutf[1] = {{"k", "\xff"}};
    CHECK(invcsi_safetensors_write("bad.safetensors", t + 2, 1, badutf, 1, &err) == INVCSI_EINVAL &&
              strstr(err.msg, "UTF-8"),
          "non-UTF-8 metadata: %s", err.msg);
    CHECK(access("bad.safetensors", F_OK) != 0 && access("bad.safetensors.tmp", F_OK) != 0,
          "nothing written on rejection");
    CHECK(invcsi_safetensors_write("no/such/dir/w.safetensors", t + 2, 1, NULL, 0, &err) ==
                  INVCSI_EIO &&
              strstr(err.msg, "no/such/dir/w.safetensors.tmp"),
          "unwritable path: %s", err.msg);
    invcsi_params empty;
    invcsi_params_init(&empty);
    CHECK(invcsi_params_save(&empty, "x.safetensors", NULL, 0, &err) == INVCSI_EINVAL,
          "unfinalized table refused");
}

static void test_corrupt(void)
{
    invcsi_error err;
    /* a valid reference file: a [2,2] and b [3] */
    float data[7] = {1, 2, 3, 4, 5, 6, 7};
    const char *ok_header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                            "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[16,28]}}";
    write_st("ok.st", ok_header, data, 28);
    invcsi_safetensors f;
    CHECK(invcsi_safetensors_load("ok.st", &f, &err) == INVCSI_OK, "unpadded valid file: %s",
          err.msg);
    invcsi_safetensors_free(&f);

    /* missing file, empty file, short file */
    unlink("missing.st");
    CHECK(invcsi_safetensors_load("missing.st", &f, &err) == INVCSI_EIO &&
              strstr(err.msg, "missing.st") && strstr(err.msg, "cannot open"),
          "missing file: %s", err.msg);
    write_bytes("empty.st", "", 0);
    expect_refused("empty.st", "shorter than the 8-byte", "empty file");
    write_bytes("short.st", "\x10\x00\x00\x00\x00", 5);
    expect_refused("short.st", "shorter than the 8-byte", "5-byte file");
    mkdir("dir.st", 0755);
    CHECK(invcsi_safetensors_load("dir.st", &f, &err) == INVCSI_EIO &&
              strstr(err.msg, "not a regular file"),
          "directory: %s", err.msg);

    /* header length: absurd, beyond the file */
    unsigned char hdr[16] = {0, 0, 0, 0, 0, 1, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    write_bytes("absurd.st", hdr, 16);
    expect_refused("absurd.st", "absurd", "header length 2^40");
    unsigned char big[16] = {0x01, 0x00, 0x40, 0x06, 0, 0, 0, 0};  /* 104857601 > 100 MB */
    write_bytes("absurd2.st", big, 16);
    expect_refused("absurd2.st", "absurd", "header length just over 100 MB");
    unsigned char beyond[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    write_bytes("beyond.st", beyond, 16);
    expect_refused("beyond.st", "exceeds the file size", "header length 100 in a 16-byte file");

    /* header content */
    write_st("json.st", "{\"a\": }", NULL, 0);
    expect_refused("json.st", "invalid JSON header", "invalid JSON");
    expect_refused("json.st", "at byte 6", "invalid JSON offset");
    write_st("notobj.st", "[1, 2]", NULL, 0);
    expect_refused("notobj.st", "must be a JSON object", "array header");
    write_st("nul.st", "{}\0\0", NULL, 0); /* strlen stops: fine, valid empty file */
    CHECK(invcsi_safetensors_load("nul.st", &f, &err) == INVCSI_OK && f.n_tensors == 0,
          "empty header object is a valid (empty) file: %s", err.msg);
    invcsi_safetensors_free(&f);
    unsigned char nulpad[16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0, 0, 0, 0, 0, 0};
    write_bytes("nulpad.st", nulpad, 16);
    expect_refused("nulpad.st", "invalid JSON header", "NUL padding");

    write_st("f16.st", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", data, 4);
    expect_refused("f16.st", "dtype F16", "dtype F16");
    write_st("nodtype.st", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", data, 4);
    expect_refused("nodtype.st", "\"dtype\"", "missing dtype");
    write_st("noshape.st", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", data, 4);
    expect_refused("noshape.st", "\"shape\"", "missing shape");
    write_st("negshape.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
             data, 4);
    expect_refused("negshape.st", "non-negative", "negative dim");
    write_st("fracshape.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}",
             data, 4);
    expect_refused("fracshape.st", "non-negative integer", "fractional dim");
    write_st("rank9.st",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
             data, 4);
    expect_refused("rank9.st", "rank 9", "rank 9");
    write_st("hugeshape.st",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}",
             data, 4);
    expect_refused("hugeshape.st", "too large", "shape overflowing 64 bits");
    write_st("nooffs.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", data, 4);
    expect_refused("nooffs.st", "data_offsets", "missing offsets");
    write_st("offs3.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", data,
             4);
    expect_refused("offs3.st", "data_offsets", "three offsets");
    write_st("backwards.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}",
             data, 4);
    expect_refused("backwards.st", "end before they begin", "end < begin");
    write_st("sizemis.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}",
             data, 12);
    expect_refused("sizemis.st", "hold 12 bytes but shape [2, 2] of F32 needs 16",
                   "offsets not matching shape");
    write_st("range.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[100,108]}}",
             data, 8);
    expect_refused("range.st", "ends at byte 108", "offsets out of range");
    write_st("overlap.st",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
             data, 12);
    expect_refused("overlap.st", "overlap", "overlapping tensors");
    write_st("gap.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", data, 8);
    expect_refused("gap.st", "gap of 4", "gap before a tensor");
    write_st("trail.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data,
             8);
    expect_refused("trail.st", "4 bytes after the last tensor", "trailing bytes");
    write_st("dupname.st",
             "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
             data, 8);
    expect_refused("dupname.st", "duplicate object key \"a\"", "duplicate tensor names");
    write_st("metanum.st", "{\"__metadata__\":{\"epochs\":10}}", NULL, 0);
    expect_refused("metanum.st", "metadata \"epochs\" must be a string", "metadata number");
    write_st("metaarr.st", "{\"__metadata__\":[\"x\"]}", NULL, 0);
    expect_refused("metaarr.st", "\"__metadata__\" must be an object", "metadata array");
    write_st("tensornum.st", "{\"a\":5}", NULL, 0);
    expect_refused("tensornum.st", "expected an object", "tensor entry not an object");

    /* truncated data: the valid file minus its last 4 bytes */
    size_t n;
    unsigned char *raw = read_bytes("ok.st", &n);
    write_bytes("trunc.st", raw, n - 4);
    expect_refused("trunc.st", "truncated: tensor \"b\" ends at byte 28", "truncated data");
    /* truncated inside the header */
    write_bytes("trunc2.st", raw, 20);
    expect_refused("trunc2.st", "exceeds the file size", "truncated header");
    free(raw);

    /* every single-byte corruption of a valid file is either accepted or refused
     * cleanly (no crash, messages name the file) */
    invcsi_params p;
    build_known(&p, &err);
    invcsi_params_save(&p, "base.st", NULL, 0, &err);
    invcsi_params_free(&p);
    raw = read_bytes("base.st", &n);
    size_t hl = raw[0] | (size_t)raw[1] << 8;
    int refused = 0, clean = 1;
    invcsi_rng rng;
    invcsi_rng_init(&rng, 99, 0);
    for (size_t i = 0; i < 8 + hl; i++) {
        unsigned char save = raw[i];
        raw[i] = (unsigned char)invcsi_rng_u64(&rng);
        int rc = invcsi_safetensors_parse(raw, n, "mutant", &f, &err);
        if (rc != INVCSI_OK) {
            refused++;
            clean &= rc == INVCSI_EFORMAT && strncmp(err.msg, "mutant: ", 8) == 0;
        }
        invcsi_safetensors_free(&f);
        raw[i] = save;
    }
    CHECK(clean, "every refused mutant has a clean message");
    CHECK(refused > (int)hl / 2, "most header mutations refused (%d of %zu)", refused, 8 + hl);
    free(raw);
}

static void test_table_mismatch(void)
{
    invcsi_error err;
    invcsi_params p;
    invcsi_params_init(&p);
    invcsi_params_add(&p, "a", 2, (int[]){3, 5}, NULL, &err);
    invcsi_params_add(&p, "b", 1, (int[]){4}, NULL, &err);
    invcsi_params_finalize(&p, &err);
    for (size_t i = 0; i < p.total; i++)
        p.data[i] = 42.0f;

    float buf[32] = {0};
    int64_t s53[2] = {5, 3}, s4[1] = {4}, s15[1] = {15}, s3[1] = {3};
    invcsi_st_tensor_in swapped[2] = {{"a", 2, s53, buf}, {"b", 1, s4, buf}};
    invcsi_safetensors_write("swapped.st", swapped, 2, NULL, 0, &err);
    CHECK(invcsi_params_load(&p, "swapped.st", &err) == INVCSI_EFORMAT &&
              strstr(err.msg, "tensor \"a\" has shape [5, 3] in the file but [3, 5] in the model") &&
              strstr(err.msg, "swapped.st"),
          "transposed shape: %s", err.msg);
    invcsi_st_tensor_in flat[2] = {{"a", 1, s15, buf}, {"b", 1, s4, buf}};
    invcsi_safetensors_write("flat.st", flat, 2, NULL, 0, &err);
    CHECK(invcsi_params_load(&p, "flat.st", &err) == INVCSI_EFORMAT &&
              strstr(err.msg, "[15] in the file but [3, 5]"),
          "rank mismatch: %s", err.msg);
    invcsi_st_tensor_in missing[1] = {{"a", 2, (int64_t[]){3, 5}, buf}};
    invcsi_safetensors_write("missing_b.st", missing, 1, NULL, 0, &err);
    CHECK(invcsi_params_load(&p, "missing_b.st", &err) == INVCSI_EFORMAT &&
              strstr(err.msg, "model tensor \"b\" (shape [4]) is missing"),
          "missing tensor: %s", err.msg);
    invcsi_st_tensor_in extra[3] = {
        {"a", 2, (int64_t[]){3, 5}, buf}, {"b", 1, s4, buf}, {"c", 1, s3, buf}};
    invcsi_safetensors_write("extra.st", extra, 3, NULL, 0, &err);
    CHECK(invcsi_params_load(&p, "extra.st", &err) == INVCSI_EFORMAT &&
              strstr(err.msg, "tensor \"c\" in the file is not part of the model"),
          "extra tensor: %s", err.msg);
    int untouched = 1;
    for (size_t i = 0; i < p.n_values; i++)
        untouched &= p.data[p.tensors[i < 15 ? 0 : 1].offset + (i < 15 ? i : i - 15)] == 42.0f;
    CHECK(untouched, "failed loads leave the parameters untouched");
    /* the correct file loads */
    CHECK(invcsi_safetensors_write("right.st", extra, 2, NULL, 0, &err) == INVCSI_OK, "write");
    CHECK(invcsi_params_load(&p, "right.st", &err) == INVCSI_OK && p.data[0] == 0.0f,
          "matching file loads: %s", err.msg);
    invcsi_params unfinalized;
    invcsi_params_init(&unfinalized);
    CHECK(invcsi_params_load(&unfinalized, "right.st", &err) == INVCSI_EINVAL,
          "unfinalized table refused");
    invcsi_params_free(&p);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write") == 0)
        return write_known(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--read") == 0)
        return read_and_print(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--write PATH | --read PATH]\n", argv[0]);
        return 2;
    }
    test_round_trip();
    test_generic_writer();
    test_corrupt();
    test_table_mismatch();
    return check_done("test_safetensors");
}

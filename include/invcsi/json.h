/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Minimal JSON for the weights file header and the model config: a writer (a string
 * builder that places commas and escapes strings) and a strict recursive-descent
 * parser into a tree.
 *
 * The parser reads untrusted files, so it never crashes on any input: it follows
 * RFC 8259 exactly (no comments, no trailing commas, no NaN), checks UTF-8, rejects
 * duplicate object keys, limits depth, input size and node count, and reports the
 * first problem with its byte offset ("at byte 17: expected ':' after object key").
 * Both sides are locale-independent (a GNU Radio Qt GUI may set LC_NUMERIC).
 */
#ifndef INVCSI_JSON_H
#define INVCSI_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "invcsi/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_JSON_MAX_DEPTH 64                    /* nested arrays/objects */
#define INVCSI_JSON_MAX_BYTES ((size_t)100 << 20)   /* input text */
#define INVCSI_JSON_MAX_NODES ((size_t)1 << 22)     /* values in one document */

typedef enum invcsi_json_type {
    INVCSI_JSON_NULL,
    INVCSI_JSON_BOOL,
    INVCSI_JSON_NUMBER,
    INVCSI_JSON_STRING,
    INVCSI_JSON_ARRAY,
    INVCSI_JSON_OBJECT
} invcsi_json_type;

/* One value of the tree. Children of arrays and objects form a list (child, next), in
 * document order; an object's children carry their key. Strings are NUL-terminated
 * and also have a length (a \u0000 escape may put a NUL inside). */
typedef struct invcsi_json {
    invcsi_json_type type;
    int boolean;                /* BOOL: 0 or 1 */
    double number;              /* NUMBER: value (finite) */
    int is_integer;             /* NUMBER: written without fraction/exponent, fits int64 */
    int64_t integer;            /* NUMBER: exact value when is_integer */
    const char *string;         /* STRING: decoded UTF-8 */
    size_t string_len;
    size_t count;               /* ARRAY/OBJECT: number of children */
    struct invcsi_json *child;  /* ARRAY/OBJECT: first child */
    struct invcsi_json *next;   /* next sibling */
    const char *key;            /* member of an OBJECT: its key (decoded), else NULL */
    size_t key_len;
    size_t offset;              /* byte offset of the value in the input text */
} invcsi_json;

struct invcsi_json_chunk;

/* A parsed document: root plus the memory of every node and string (one free). */
typedef struct invcsi_json_doc {
    invcsi_json *root;
    struct invcsi_json_chunk *chunks;
    size_t nodes;
} invcsi_json_doc;

/* Parses text[0..len) (need not be NUL-terminated). Whitespace may surround the one
 * top-level value; anything else after it is an error. On error doc is empty and err
 * says "JSON at byte N: what" (INVCSI_EFORMAT; INVCSI_ENOMEM if memory ran out). */
int invcsi_json_parse(const char *text, size_t len, invcsi_json_doc *doc, invcsi_error *err);
void invcsi_json_doc_free(invcsi_json_doc *doc);

/* Lookups; each returns NULL when v is NULL, has the wrong type, or lacks the item. */
const invcsi_json *invcsi_json_get(const invcsi_json *object, const char *key);
const invcsi_json *invcsi_json_at(const invcsi_json *array, size_t index);
const char *invcsi_json_string(const invcsi_json *v);   /* STRING value */
const char *invcsi_json_type_name(invcsi_json_type type);

/* Typed member getters for config parsing: INVCSI_OK, or INVCSI_EFORMAT with a message
 * naming the key ("key \"nt\": expected an integer, found a string"). A missing key is
 * an error too; test with invcsi_json_get first for optional keys. */
int invcsi_json_get_int(const invcsi_json *object, const char *key, int64_t *out,
                        invcsi_error *err);
int invcsi_json_get_double(const invcsi_json *object, const char *key, double *out,
                           invcsi_error *err);
int invcsi_json_get_bool(const invcsi_json *object, const char *key, int *out,
                         invcsi_error *err);
int invcsi_json_get_string(const invcsi_json *object, const char *key, const char **out,
                           invcsi_error *err);

/* ------------------------------------------------------------------------------------
 * Writer. Calls append to buf; commas and colons are placed automatically. The first
 * misuse (value without key inside an object, unbalanced end, invalid UTF-8, NaN,
 * nesting beyond INVCSI_JSON_MAX_DEPTH) or allocation failure is remembered and
 * reported by invcsi_jw_finish; later calls are then ignored, so callers check once.
 * ------------------------------------------------------------------------------------ */
typedef struct invcsi_json_writer {
    char *buf;          /* NUL-terminated text so far */
    size_t len, cap;
    int depth;
    uint64_t in_object; /* bit d: level d+1 is an object (else an array) */
    uint64_t has_items; /* bit d: level d+1 already holds an item (next needs a comma) */
    int after_key;      /* a key was written, its value comes next */
    int done;           /* the top-level value is complete */
    invcsi_error error; /* first failure (code INVCSI_OK while none) */
} invcsi_json_writer;

void invcsi_jw_init(invcsi_json_writer *w);
void invcsi_jw_free(invcsi_json_writer *w);
void invcsi_jw_object_begin(invcsi_json_writer *w);
void invcsi_jw_object_end(invcsi_json_writer *w);
void invcsi_jw_array_begin(invcsi_json_writer *w);
void invcsi_jw_array_end(invcsi_json_writer *w);
void invcsi_jw_key(invcsi_json_writer *w, const char *key);
void invcsi_jw_key_n(invcsi_json_writer *w, const char *key, size_t len);
void invcsi_jw_string(invcsi_json_writer *w, const char *s);
void invcsi_jw_string_n(invcsi_json_writer *w, const char *s, size_t len);
void invcsi_jw_number(invcsi_json_writer *w, double x);     /* shortest exact (%.17g) */
void invcsi_jw_integer(invcsi_json_writer *w, int64_t x);
void invcsi_jw_bool(invcsi_json_writer *w, int b);
void invcsi_jw_null(invcsi_json_writer *w);
/* Checks the document is complete and balanced. On success *text (NUL-terminated,
 * owned by w until invcsi_jw_free) and *len are set. */
int invcsi_jw_finish(invcsi_json_writer *w, const char **text, size_t *len, invcsi_error *err);

/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF), else 0. */
int invcsi_utf8_valid(const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* JSON writer and parser: round trips, escapes, malformed inputs, limits, fuzzing. */
#include <locale.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "invcsi/json.h"
#include "invcsi/rng.h"

/* Serialises a parsed tree back through the writer (canonical compact form). */
static void emit(invcsi_json_writer *w, const invcsi_json *v)
{
    switch (v->type) {
    case INVCSI_JSON_NULL: invcsi_jw_null(w); break;
    case INVCSI_JSON_BOOL: invcsi_jw_bool(w, v->boolean); break;
    case INVCSI_JSON_NUMBER:
        if (v->is_integer)
            invcsi_jw_integer(w, v->integer);
        else
            invcsi_jw_number(w, v->number);
        break;
    case INVCSI_JSON_STRING: invcsi_jw_string_n(w, v->string, v->string_len); break;
    case INVCSI_JSON_ARRAY:
        invcsi_jw_array_begin(w);
        for (const invcsi_json *c = v->child; c; c = c->next)
            emit(w, c);
        invcsi_jw_array_end(w);
        break;
    case INVCSI_JSON_OBJECT:
        invcsi_jw_object_begin(w);
        for (const invcsi_json *c = v->child; c; c = c->next) {
            invcsi_jw_key_n(w, c->key, c->key_len);
            emit(w, c);
        }
        invcsi_jw_object_end(w);
        break;
    }
}

static const char NUL_STR[] = "a\0b";   /* 3 bytes with an embedded NUL */

static void build_doc(invcsi_json_writer *w)
{
    invcsi_jw_init(w);
    invcsi_jw_object_begin(w);
    invcsi_jw_key(w, "name");
    invcsi_jw_string(w, "InvCSINet \"v1\" \\ path/x\n\t\r\b\f\x01\x1f end");
    invcsi_jw_key(w, "unicode");
    invcsi_jw_string(w, "Å ✓ \xF0\x9F\x98\x80");  /* 2-, 3- and 4-byte UTF-8 */
    invcsi_jw_key(w, "nul");
    invcsi_jw_string_n(w, NUL_STR, 3);
    invcsi_jw_key(w, "k\"ey\n");
    invcsi_jw_integer(w, -7);
    invcsi_jw_key(w, "sizes");
    invcsi_jw_array_begin(w);
    invcsi_jw_integer(w, 32);
    invcsi_jw_integer(w, INT64_MIN);
    invcsi_jw_integer(w, INT64_MAX);
    invcsi_jw_number(w, 0.1);
    invcsi_jw_number(w, -1e-300);
    invcsi_jw_number(w, 1.7976931348623157e308);
    invcsi_jw_number(w, (double)0.1f);
    invcsi_jw_number(w, 0.5);
    invcsi_jw_array_end(w);
    invcsi_jw_key(w, "nested");
    invcsi_jw_object_begin(w);
    invcsi_jw_key(w, "empty_array");
    invcsi_jw_array_begin(w);
    invcsi_jw_array_end(w);
    invcsi_jw_key(w, "empty_object");
    invcsi_jw_object_begin(w);
    invcsi_jw_object_end(w);
    invcsi_jw_key(w, "deep");
    invcsi_jw_array_begin(w);
    invcsi_jw_array_begin(w);
    invcsi_jw_bool(w, 1);
    invcsi_jw_bool(w, 0);
    invcsi_jw_null(w);
    invcsi_jw_array_end(w);
    invcsi_jw_object_begin(w);
    invcsi_jw_key(w, "x");
    invcsi_jw_number(w, 2.5);
    invcsi_jw_object_end(w);
    invcsi_jw_array_end(w);
    invcsi_jw_object_end(w);
    invcsi_jw_object_end(w);
}

static void test_round_trip(void)
{
    invcsi_json_writer w;
    invcsi_error err;
    const char *text;
    size_t len;
    build_doc(&w);
    CHECK(invcsi_jw_finish(&w, &text, &len, &err) == INVCSI_OK, "finish: %s", err.msg);
    CHECK(strlen(text) == len, "text length");
    CHECK(strstr(text, "\\\"v1\\\"") != NULL, "quotes escaped: %s", text);
    CHECK(strstr(text, "\\n\\t\\r\\b\\f\\u0001\\u001f") != NULL, "control chars escaped: %s", text);
    CHECK(strstr(text, "\"a\\u0000b\"") != NULL, "NUL escaped");

    invcsi_json_doc doc;
    CHECK(invcsi_json_parse(text, len, &doc, &err) == INVCSI_OK, "parse: %s", err.msg);
    const invcsi_json *r = doc.root;
    CHECK(r && r->type == INVCSI_JSON_OBJECT && r->count == 6, "root object of 6");
    CHECK(strcmp(invcsi_json_string(invcsi_json_get(r, "name")),
                 "InvCSINet \"v1\" \\ path/x\n\t\r\b\f\x01\x1f end") == 0,
          "escapes decoded");
    CHECK(strcmp(invcsi_json_string(invcsi_json_get(r, "unicode")), "Å ✓ \xF0\x9F\x98\x80") == 0,
          "UTF-8 kept");
    const invcsi_json *nul = invcsi_json_get(r, "nul");
    CHECK(nul && nul->string_len == 3 && memcmp(nul->string, NUL_STR, 3) == 0, "embedded NUL");
    const invcsi_json *k = invcsi_json_get(r, "k\"ey\n");
    CHECK(k && k->is_integer && k->integer == -7, "escaped key");
    const invcsi_json *sizes = invcsi_json_get(r, "sizes");
    CHECK(sizes && sizes->count == 8, "array of 8");
    CHECK(invcsi_json_at(sizes, 1)->is_integer && invcsi_json_at(sizes, 1)->integer == INT64_MIN,
          "INT64_MIN exact");
    CHECK(invcsi_json_at(sizes, 2)->integer == INT64_MAX, "INT64_MAX exact");
    CHECK(invcsi_json_at(sizes, 3)->number == 0.1 && !invcsi_json_at(sizes, 3)->is_integer, "0.1");
    CHECK(invcsi_json_at(sizes, 4)->number == -1e-300, "-1e-300");
    CHECK(invcsi_json_at(sizes, 5)->number == 1.7976931348623157e308, "DBL_MAX");
    CHECK(invcsi_json_at(sizes, 6)->number == (double)0.1f, "float 0.1 exact");
    CHECK(invcsi_json_at(sizes, 8) == NULL, "out of range index");
    const invcsi_json *deep = invcsi_json_get(invcsi_json_get(r, "nested"), "deep");
    CHECK(deep && invcsi_json_at(invcsi_json_at(deep, 0), 0)->boolean == 1, "nested bool");
    CHECK(invcsi_json_at(invcsi_json_at(deep, 0), 2)->type == INVCSI_JSON_NULL, "nested null");
    CHECK(invcsi_json_get(invcsi_json_at(deep, 1), "x")->number == 2.5, "nested object");
    CHECK(invcsi_json_get(invcsi_json_get(r, "nested"), "empty_array")->count == 0, "empty array");

    /* typed getters */
    int64_t iv;
    double dv;
    const char *sv;
    int bv;
    CHECK(invcsi_json_get_int(r, "k\"ey\n", &iv, &err) == INVCSI_OK && iv == -7, "get_int");
    CHECK(invcsi_json_get_double(invcsi_json_at(deep, 1), "x", &dv, &err) == INVCSI_OK &&
              dv == 2.5,
          "get_double");
    CHECK(invcsi_json_get_string(r, "name", &sv, &err) == INVCSI_OK, "get_string");
    CHECK(invcsi_json_get_int(r, "name", &iv, &err) == INVCSI_EFORMAT, "string is not an int");
    CHECK(strstr(err.msg, "\"name\"") && strstr(err.msg, "found a string"), "msg: %s", err.msg);
    CHECK(invcsi_json_get_bool(r, "missing", &bv, &err) == INVCSI_EFORMAT &&
              strstr(err.msg, "missing"),
          "missing key: %s", err.msg);
    CHECK(invcsi_json_get_int(invcsi_json_at(deep, 1), "x", &iv, &err) == INVCSI_EFORMAT,
          "2.5 is not an integer");

    /* re-serialising the tree gives the same text */
    invcsi_json_writer w2;
    const char *text2;
    size_t len2;
    invcsi_jw_init(&w2);
    emit(&w2, r);
    CHECK(invcsi_jw_finish(&w2, &text2, &len2, &err) == INVCSI_OK, "finish 2: %s", err.msg);
    CHECK(len2 == len && memcmp(text, text2, len) == 0, "canonical round trip:\n%s\n%s", text,
          text2);
    invcsi_jw_free(&w2);
    invcsi_json_doc_free(&doc);
    invcsi_jw_free(&w);
}

static void test_parse_escapes(void)
{
    invcsi_json_doc doc;
    invcsi_error err;
    const char *t = "  [\"\\u00e9\\u20AC\\ud83d\\ude00\\/\", 0, -0, 1E2, 2e-1, -12.5e+1, "
                    "9223372036854775808, 123456789012345678901234]\r\n";
    CHECK(invcsi_json_parse(t, strlen(t), &doc, &err) == INVCSI_OK, "parse: %s", err.msg);
    const invcsi_json *a = doc.root;
    CHECK(strcmp(invcsi_json_string(invcsi_json_at(a, 0)), "é€\xF0\x9F\x98\x80/") == 0,
          "\\u escapes incl. surrogate pair");
    CHECK(invcsi_json_at(a, 1)->is_integer && invcsi_json_at(a, 1)->integer == 0, "0");
    CHECK(invcsi_json_at(a, 3)->number == 100.0 && !invcsi_json_at(a, 3)->is_integer, "1E2");
    CHECK(invcsi_json_at(a, 4)->number == 0.2, "2e-1");
    CHECK(invcsi_json_at(a, 5)->number == -125.0, "-12.5e+1");
    CHECK(!invcsi_json_at(a, 6)->is_integer && invcsi_json_at(a, 6)->number == 9223372036854775808.0,
          "2^63 is a number but not an int64");
    CHECK(!invcsi_json_at(a, 7)->is_integer, "huge integer");
    CHECK(invcsi_json_at(a, 0)->offset == 3, "value offset recorded");
    invcsi_json_doc_free(&doc);

    /* not NUL-terminated: only len bytes are read */
    char buf[4] = {'1', '2', '3', '4'};
    CHECK(invcsi_json_parse(buf, 2, &doc, &err) == INVCSI_OK && doc.root->integer == 12,
          "length-bounded parse");
    invcsi_json_doc_free(&doc);
}

static void test_malformed(void)
{
    struct {
        const char *text;
        size_t len;     /* 0: strlen */
        size_t at;      /* expected byte offset in the message */
        const char *what;
    } cases[] = {
        {"", 0, 0, "end of input"},
        {"   ", 0, 3, "end of input"},
        {"[", 0, 1, "end of input"},
        {"[1,]", 0, 3, "expected a value"},
        {"[1 2]", 0, 3, "expected ','"},
        {"[1,2", 0, 4, "expected ','"},
        {"{\"a\":1,}", 0, 7, "string key"},
        {"{\"a\" 1}", 0, 5, "expected ':'"},
        {"{1:2}", 0, 1, "string key"},
        {"{'a':2}", 0, 1, "string key"},
        {"[01]", 0, 2, "leading zero"},
        {"1.", 0, 2, "decimal point"},
        {".5", 0, 0, "expected a value"},
        {"1e", 0, 2, "exponent"},
        {"-", 0, 1, "digit"},
        {"+1", 0, 0, "expected a value"},
        {"tru", 0, 0, "literal"},
        {"nulL", 0, 0, "literal"},
        {"NaN", 0, 0, "expected a value"},
        {"1e999", 0, 0, "out of range"},
        {"\"abc", 0, 0, "not terminated"},
        {"\"a\\x\"", 0, 2, "invalid escape"},
        {"\"\\u12g4\"", 0, 1, "4 hex digits"},
        {"\"\\u12\"", 0, 1, "4 hex digits"},
        {"\"\\ud800\"", 0, 1, "high surrogate"},
        {"\"\\ud800\\u0041\"", 0, 1, "high surrogate"},
        {"\"\\udc00\"", 0, 1, "low surrogate"},
        {"\"a\x01\"", 0, 2, "control character"},
        {"\"tab\there\"", 0, 4, "control character"},
        {"\"\xff\"", 0, 1, "UTF-8"},
        {"\"\xc0\xaf\"", 0, 1, "UTF-8"},            /* overlong '/' */
        {"\"\xed\xa0\x80\"", 0, 1, "UTF-8"},        /* encoded surrogate */
        {"\"\xe2\x82\"", 0, 1, "UTF-8"},            /* truncated sequence */
        {"{} x", 0, 3, "after the end"},
        {"[1]]", 0, 3, "after the end"},
        {"1 2", 0, 2, "after the end"},
        {"{\"a\":1,\"a\":2}", 0, 11, "duplicate object key \"a\""},
        {"[1,\0]", 5, 3, "byte 0x00"},
        {"// comment\n1", 0, 0, "expected a value"},
        {"[1,2,]", 0, 5, "expected a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        invcsi_json_doc doc;
        invcsi_error err;
        invcsi_error_clear(&err);
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        int rc = invcsi_json_parse(cases[i].text, len, &doc, &err);
        CHECK(rc == INVCSI_EFORMAT, "case %zu (%s) rejected", i, cases[i].what);
        char at[48];
        snprintf(at, sizeof at, "at byte %zu:", cases[i].at);
        CHECK(strstr(err.msg, at) != NULL, "case %zu: want '%s' in: %s", i, at, err.msg);
        CHECK(strstr(err.msg, cases[i].what) != NULL, "case %zu: want '%s' in: %s", i,
              cases[i].what, err.msg);
        CHECK(doc.root == NULL && doc.chunks == NULL, "case %zu: doc empty after error", i);
    }

    /* many keys: the sorted duplicate check */
    invcsi_json_writer w;
    invcsi_jw_init(&w);
    invcsi_jw_object_begin(&w);
    for (int i = 0; i < 100; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        invcsi_jw_key(&w, key);
        invcsi_jw_integer(&w, i);
    }
    invcsi_jw_object_end(&w);
    const char *text;
    size_t len;
    invcsi_error err;
    CHECK(invcsi_jw_finish(&w, &text, &len, &err) == INVCSI_OK, "100 keys");
    invcsi_json_doc doc;
    CHECK(invcsi_json_parse(text, len, &doc, &err) == INVCSI_OK, "100 distinct keys parse");
    CHECK(invcsi_json_get(doc.root, "k99")->integer == 99, "lookup k99");
    invcsi_json_doc_free(&doc);
    char *dup = malloc(len + 16);
    memcpy(dup, text, len - 1);
    strcpy(dup + len - 1, ",\"k42\":0}");
    CHECK(invcsi_json_parse(dup, strlen(dup), &doc, &err) == INVCSI_EFORMAT &&
              strstr(err.msg, "duplicate object key \"k42\""),
          "duplicate among 101 keys: %s", err.msg);
    free(dup);
    invcsi_jw_free(&w);
}

static void test_limits(void)
{
    char buf[400];
    invcsi_json_doc doc;
    invcsi_error err;
    for (int depth = 63; depth <= 66; depth++) {
        memset(buf, '[', (size_t)depth);
        memset(buf + depth, ']', (size_t)depth);
        int rc = invcsi_json_parse(buf, 2 * (size_t)depth, &doc, &err);
        if (depth <= INVCSI_JSON_MAX_DEPTH)
            CHECK(rc == INVCSI_OK, "depth %d accepted: %s", depth, err.msg);
        else
            CHECK(rc == INVCSI_EFORMAT && strstr(err.msg, "nesting deeper"), "depth %d rejected: %s",
                  depth, err.msg);
        invcsi_json_doc_free(&doc);
    }
    /* deep nesting far beyond the limit (stack safety) */
    size_t n = 1 << 20;
    char *big = malloc(n);
    memset(big, '[', n);
    CHECK(invcsi_json_parse(big, n, &doc, &err) == INVCSI_EFORMAT, "1 MB of '[' rejected");
    memset(big, '{', n);
    CHECK(invcsi_json_parse(big, n, &doc, &err) == INVCSI_EFORMAT, "1 MB of '{' rejected");
    free(big);
    /* size limit is checked before reading anything */
    CHECK(invcsi_json_parse("1", INVCSI_JSON_MAX_BYTES + 1, &doc, &err) == INVCSI_EFORMAT &&
              strstr(err.msg, "limit"),
          "size limit: %s", err.msg);
    /* a long number */
    memset(buf, '1', 300);
    CHECK(invcsi_json_parse(buf, 300, &doc, &err) == INVCSI_OK && !doc.root->is_integer,
          "300-digit number: %s", err.msg);
    invcsi_json_doc_free(&doc);
    char *longnum = malloc(2000);
    memset(longnum, '1', 2000);
    CHECK(invcsi_json_parse(longnum, 2000, &doc, &err) == INVCSI_EFORMAT &&
              strstr(err.msg, "number longer"),
          "2000-digit number: %s", err.msg);
    free(longnum);
    /* a big string (one-off arena block) */
    size_t sl = 300000;
    char *s = malloc(sl + 2);
    s[0] = '"';
    memset(s + 1, 'x', sl);
    s[sl + 1] = '"';
    CHECK(invcsi_json_parse(s, sl + 2, &doc, &err) == INVCSI_OK && doc.root->string_len == sl,
          "300 kB string");
    invcsi_json_doc_free(&doc);
    free(s);
}

static void test_writer_misuse(void)
{
    invcsi_json_writer w;
    invcsi_error err;
    const char *t;
    size_t n;

    invcsi_jw_init(&w);
    invcsi_jw_object_begin(&w);
    invcsi_jw_integer(&w, 1); /* no key */
    CHECK(invcsi_jw_finish(&w, &t, &n, &err) == INVCSI_EINVAL && strstr(err.msg, "without a key"),
          "value without key: %s", err.msg);
    invcsi_jw_free(&w);

    invcsi_jw_init(&w);
    invcsi_jw_array_begin(&w);
    invcsi_jw_object_end(&w);
    CHECK(invcsi_jw_finish(&w, &t, &n, &err) == INVCSI_EINVAL, "mismatched end");
    invcsi_jw_free(&w);

    invcsi_jw_init(&w);
    invcsi_jw_array_begin(&w);
    CHECK(invcsi_jw_finish(&w, &t, &n, &err) == INVCSI_EINVAL && strstr(err.msg, "unclosed"),
          "unclosed: %s", err.msg);
    invcsi_jw_free(&w);

    invcsi_jw_init(&w);
    CHECK(invcsi_jw_finish(&w, &t, &n, &err) == INVCSI_EINVAL, "empty document");
    invcsi_jw_free(&w);

    invcsi_jw_init(&w);
    invcsi_jw_number(&w, NAN);
    CHECK(invcsi_jw_finish(&w, &t, &n, &err) == INVCSI_EINVAL && strstr(err.msg, "NaN"), "NaN");
    invcsi_jw_free(&w);

    invcsi_jw_init(&w);
    invcsi_jw_string(&w, "bad \xff utf8");
    CHECK(invcsi_jw_finish(&w, &t, &n, &err) == INVCSI_EINVAL && strstr(err.msg, "UTF-8"),
          "invalid UTF-8: %s", err.msg);
    invcsi_jw_free(&w);

    invcsi_jw_init(&w);
    invcsi_jw_integer(&w, 1);
    invcsi_jw_integer(&w, 2);
    CHECK(invcsi_jw_finish(&w, &t, &n, &err) == INVCSI_EINVAL, "two top-level values");
    invcsi_jw_free(&w);

    invcsi_jw_init(&w);
    invcsi_jw_object_begin(&w);
    invcsi_jw_key(&w, "a");
    invcsi_jw_object_end(&w);
    CHECK(invcsi_jw_finish(&w, &t, &n, &err) == INVCSI_EINVAL, "key without value");
    invcsi_jw_free(&w);

    invcsi_jw_init(&w);
    for (int i = 0; i < 70; i++)
        invcsi_jw_array_begin(&w);
    CHECK(invcsi_jw_finish(&w, &t, &n, &err) == INVCSI_EINVAL && strstr(err.msg, "nesting"),
          "writer depth limit: %s", err.msg);
    invcsi_jw_free(&w);

    invcsi_jw_init(&w);
    invcsi_jw_string(&w, "plain");
    CHECK(invcsi_jw_finish(&w, &t, &n, &err) == INVCSI_OK && strcmp(t, "\"plain\"") == 0,
          "top-level string");
    invcsi_jw_free(&w);
}

/* Numbers must not follow LC_NUMERIC (a Qt GUI sets it from the environment). */
static void test_locale(void)
{
    const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"};
    const char *got = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !got; i++)
        got = setlocale(LC_NUMERIC, names[i]);
    if (!got) {
        printf("note: no comma-decimal locale installed, locale check skipped\n");
        return;
    }
    invcsi_json_writer w;
    invcsi_error err;
    const char *t;
    size_t n;
    invcsi_jw_init(&w);
    invcsi_jw_number(&w, 0.5);
    CHECK(invcsi_jw_finish(&w, &t, &n, &err) == INVCSI_OK && strcmp(t, "0.5") == 0,
          "0.5 written with a point under %s: %s", got, t);
    invcsi_jw_free(&w);
    invcsi_json_doc doc;
    CHECK(invcsi_json_parse("0.25", 4, &doc, &err) == INVCSI_OK && doc.root->number == 0.25,
          "0.25 read under %s", got);
    invcsi_json_doc_free(&doc);
    setlocale(LC_NUMERIC, "C");
}

/* Random bytes and mutated documents: the parser must return (OK or an error with an
 * offset) and never crash; whatever it accepts must serialise and parse again. */
static void test_fuzz(void)
{
    invcsi_json_writer w;
    const char *seed_text;
    size_t seed_len;
    invcsi_error err;
    build_doc(&w);
    invcsi_jw_finish(&w, &seed_text, &seed_len, &err);
    const char *seeds[] = {seed_text, "{\"a\":[1,2.5e3,{\"b\":null}],\"c\":\"\\u00e9\\ud83d\\ude00\"}",
                           "[true,false,null,-0.0,\"x\\n\"]",
                           "{\"__metadata__\":{\"k\":\"v\"},\"t\":{\"dtype\":\"F32\",\"shape\":[2],"
                           "\"data_offsets\":[0,8]}}"};
    const char alphabet[] = "{}[]\":,\\u0123456789.eE+-tfn \x80\xc3\xa9\xff\x00";
    invcsi_rng rng;
    invcsi_rng_init(&rng, 12345, 0);
    unsigned char buf[1024];
    long accepted = 0, rejected = 0, bad_msg = 0, reparse_fail = 0;
    const int N = 20000;
    for (int it = 0; it < N; it++) {
        size_t len;
        if (it % 4 == 0) {
            /* pure random bytes */
            len = (size_t)invcsi_rng_below(&rng, 64);
            for (size_t i = 0; i < len; i++)
                buf[i] = (unsigned char)invcsi_rng_u64(&rng);
        } else if (it % 4 == 1) {
            /* random structural characters */
            len = (size_t)invcsi_rng_below(&rng, 48);
            for (size_t i = 0; i < len; i++)
                buf[i] = (unsigned char)alphabet[invcsi_rng_below(&rng, sizeof alphabet - 1)];
        } else {
            /* a valid document with a few mutations */
            const char *s = seeds[invcsi_rng_below(&rng, 4)];
            len = strlen(s);
            if (len > sizeof buf - 8)
                len = sizeof buf - 8;
            memcpy(buf, s, len);
            int m = 1 + (int)invcsi_rng_below(&rng, 4);
            for (int k = 0; k < m && len > 0; k++) {
                size_t pos = (size_t)invcsi_rng_below(&rng, len);
                switch (invcsi_rng_below(&rng, 4)) {
                case 0: buf[pos] = (unsigned char)invcsi_rng_u64(&rng); break;
                case 1: buf[pos] = (unsigned char)alphabet[invcsi_rng_below(&rng, sizeof alphabet - 1)]; break;
                case 2: memmove(buf + pos, buf + pos + 1, len - pos - 1); len--; break;
                case 3: len = pos; break;  /* truncate */
                }
            }
        }
        /* parse from an exact-size heap copy so ASan/valgrind catch any over-read */
        char *copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        invcsi_json_doc doc;
        int rc = invcsi_json_parse(copy, len, &doc, &err);
        if (rc == INVCSI_OK) {
            accepted++;
            invcsi_json_writer w2;
            const char *t2;
            size_t n2;
            invcsi_jw_init(&w2);
            emit(&w2, doc.root);
            invcsi_json_doc doc2;
            if (invcsi_jw_finish(&w2, &t2, &n2, &err) != INVCSI_OK ||
                invcsi_json_parse(t2, n2, &doc2, &err) != INVCSI_OK)
                reparse_fail++;
            else
                invcsi_json_doc_free(&doc2);
            invcsi_jw_free(&w2);
            invcsi_json_doc_free(&doc);
        } else {
            rejected++;
            if (rc != INVCSI_EFORMAT || !strstr(err.msg, "at byte "))
                bad_msg++;
        }
        free(copy);
    }
    printf("fuzz: %d inputs, %ld accepted, %ld rejected\n", N, accepted, rejected);
    CHECK(accepted + rejected == N, "every input handled");
    CHECK(accepted > 100 && rejected > 100, "fuzz reaches both outcomes");
    CHECK(bad_msg == 0, "%ld rejections without code/offset", bad_msg);
    CHECK(reparse_fail == 0, "%ld accepted documents failed to round trip", reparse_fail);
    invcsi_jw_free(&w);
}

int main(void)
{
    test_round_trip();
    test_parse_escapes();
    test_malformed();
    test_limits();
    test_writer_misuse();
    test_locale();
    test_fuzz();
    return check_done("test_json");
}

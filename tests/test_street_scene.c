/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Street scene files: data/scenes/street-default.json is the built-in default (byte for
 * byte as printed, and as parsed); print -> parse round trip; every kind of bad scene
 * (malformed JSON, missing field, wrong type, unknown key or material, negative size, BS
 * inside a building, unreadable file) gives a clear error naming the problem.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "invcsi/street.h"

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc(n + 1);
    if (s && fread(s, 1, n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = '\0';
    fclose(f);
    return s;
}

static char *print_scene(const invcsi_street_scene *s)
{
    char *t = NULL;
    invcsi_error err;
    int rc = invcsi_street_scene_to_json(s, &t, &err);
    CHECK(rc == 0, "print: %s", err.msg);
    return t;
}

static void test_default_file(void)
{
    const char *src = getenv("INVCSI_SOURCE_DIR");
    if (!src) {
        printf("INVCSI_SOURCE_DIR not set: default-file comparison skipped\n");
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/data/scenes/street-default.json", src);
    char *file = read_all(path);
    CHECK(file != NULL, "cannot read %s", path);
    invcsi_street_scene def, loaded;
    invcsi_street_scene_default(&def);
    char *printed = print_scene(&def);
    if (file && printed)
        CHECK(!strcmp(file, printed),
              "%s differs from the built-in default as printed (regenerate it with "
              "invcsi-gen --model street --print-scene)",
              path);
    invcsi_error err;
    int rc = invcsi_street_scene_load(path, &loaded, &err);
    CHECK(rc == 0, "load default file: %s", err.msg);
    char *reprinted = rc == 0 ? print_scene(&loaded) : NULL;
    if (printed && reprinted)
        CHECK(!strcmp(printed, reprinted), "parse(default file) prints differently");
    if (rc == 0) {
        CHECK(loaded.n_buildings == def.n_buildings && loaded.n_regions == def.n_regions &&
                  loaded.n_materials == def.n_materials,
              "counts");
        CHECK(!memcmp(loaded.buildings, def.buildings, sizeof def.buildings[0] * def.n_buildings),
              "buildings identical");
        CHECK(!memcmp(&loaded.bs, &def.bs, sizeof def.bs), "bs identical");
        CHECK(!memcmp(loaded.regions, def.regions, sizeof def.regions[0] * def.n_regions),
              "regions identical");
        CHECK(loaded.user_z == def.user_z && loaded.user_spacing == def.user_spacing, "users");
    }
    free(file);
    free(printed);
    free(reprinted);
}

/* A small valid scene; bad variants are made by replacing one piece of text. */
static const char *GOOD =
    "{\"name\": \"t\", \"materials\": [{\"name\": \"c\", \"eta_a\": 5.24, \"eta_b\": 0, "
    "\"sigma_c\": 0.0462, \"sigma_d\": 0.7822}], \"ground_material\": \"c\", "
    "\"buildings\": [{\"x0\": 10, \"y0\": 10, \"x1\": 20, \"y1\": 30, \"height\": 15, "
    "\"material\": \"c\"}], "
    "\"bs\": {\"x\": 0, \"y\": 0, \"z\": 6, \"array_axis_deg\": 0, \"downtilt_deg\": 0, "
    "\"pattern\": \"isotropic\"}, "
    "\"users\": {\"z\": 1.5, \"spacing\": 2, \"regions\": [{\"x0\": -10, \"y0\": -10, \"x1\": 10, "
    "\"y1\": 10, \"array_axis_deg\": 0}]}}";

/* GOOD with the first occurrence of `from` replaced by `to`, parsed; returns rc. */
static int parse_variant(const char *from, const char *to, int want_rc, const char *want_msg)
{
    const char *at = strstr(GOOD, from);
    CHECK(at != NULL, "test bug: '%s' not in the template", from);
    if (!at)
        return -100;
    char text[4096];
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - GOOD), GOOD, to, at + strlen(from));
    invcsi_street_scene s;
    invcsi_error err;
    invcsi_error_clear(&err);
    int rc = invcsi_street_scene_parse(text, strlen(text), "bad.json", &s, &err);
    CHECK(rc == want_rc, "'%s' -> '%s': rc %d, want %d (%s)", from, to, rc, want_rc, err.msg);
    CHECK(strstr(err.msg, want_msg) != NULL, "'%s' -> '%s': message '%s' lacks '%s'", from, to,
          err.msg, want_msg);
    CHECK(strncmp(err.msg, "bad.json", 8) == 0, "message names the file: '%s'", err.msg);
    printf("  %-28s -> %s\n", to[0] ? to : "(removed)", err.msg);
    return rc;
}

static void test_bad_scenes(void)
{
    invcsi_street_scene s;
    invcsi_error err;
    int rc = invcsi_street_scene_parse(GOOD, strlen(GOOD), "good.json", &s, &err);
    CHECK(rc == 0, "the template parses: %s", err.msg);
    CHECK(rc != 0 || (s.n_buildings == 1 && s.buildings[0].y1 == 30 && s.user_spacing == 2),
          "template values");

    parse_variant("{\"name\"", "{{\"name\"", INVCSI_EFORMAT, "at byte");          /* malformed */
    parse_variant("}]}}", "}]}", INVCSI_EFORMAT, "at byte");                        /* truncated */
    parse_variant("\"height\": 15, ", "", INVCSI_EFORMAT, "missing \"height\"");     /* missing */
    parse_variant("\"bs\": {\"x\": 0, ", "\"bs\": {", INVCSI_EFORMAT, "missing \"x\"");
    parse_variant("\"spacing\": 2", "\"spacing\": \"2\"", INVCSI_EFORMAT, "expected a number");
    parse_variant("\"x1\": 20", "\"x1\": 20, \"colour\": 1", INVCSI_EFORMAT, "unknown key \"colour\"");
    parse_variant("\"material\": \"c\"", "\"material\": \"steel\"", INVCSI_EFORMAT,
                  "unknown material \"steel\"");
    parse_variant("\"x1\": 20", "\"x1\": 5", INVCSI_EINVAL, "size must be positive");  /* negative size */
    parse_variant("\"height\": 15", "\"height\": -3", INVCSI_EINVAL, "height");
    parse_variant("\"bs\": {\"x\": 0, \"y\": 0", "\"bs\": {\"x\": 15, \"y\": 20", INVCSI_EINVAL,
                  "inside");                                                     /* BS inside */
    parse_variant("\"pattern\": \"isotropic\"", "\"pattern\": \"dish\"", INVCSI_EFORMAT, "pattern");
    parse_variant("\"spacing\": 2", "\"spacing\": 0", INVCSI_EINVAL, "spacing");
    parse_variant("\"x0\": -10, \"y0\": -10", "\"x0\": -10000, \"y0\": -10000", INVCSI_EINVAL,
                  "user grid has");
    parse_variant("\"z\": 6", "\"z\": -6", INVCSI_EINVAL, "bs position");
    parse_variant("\"name\": \"t\"", "\"name\": \"a b\"", INVCSI_EFORMAT, "must be 1-31 letters");
    parse_variant("{\"name\": \"t\",", "{\"version\": 2, \"name\": \"t\",", INVCSI_EFORMAT,
                  "version 1 only");
    parse_variant("\"regions\": [{\"x0\": -10, \"y0\": -10, \"x1\": 10, \"y1\": 10, "
                  "\"array_axis_deg\": 0}]",
                  "\"regions\": []", INVCSI_EFORMAT, "needs 1 to 32 regions");

    rc = invcsi_street_scene_parse("[]", 2, "arr.json", &s, &err);
    CHECK(rc == INVCSI_EFORMAT && strstr(err.msg, "must be a JSON object"), "array: %s", err.msg);
    rc = invcsi_street_scene_load("/nonexistent/scene.json", &s, &err);
    CHECK(rc == INVCSI_EIO && strstr(err.msg, "/nonexistent/scene.json"), "missing file: %s",
          err.msg);
    printf("  %-28s -> %s\n", "(no such file)", err.msg);
}

static void test_round_trip(void)
{
    invcsi_street_scene s, back;
    invcsi_street_scene_default(&s);
    /* awkward numbers survive exactly */
    s.buildings[3].height = 0.1 + 0.2;
    s.bs.array_axis_deg = 1.0 / 3.0;
    s.bs.pattern = INVCSI_STREET_PATTERN_TR38901;
    s.bs.downtilt_deg = -7.25;
    char *t = print_scene(&s);
    invcsi_error err;
    int rc = t ? invcsi_street_scene_parse(t, strlen(t), "printed", &back, &err) : -1;
    CHECK(rc == 0, "parse printed: %s", err.msg);
    if (rc == 0) {
        CHECK(back.buildings[3].height == 0.1 + 0.2, "exact double");
        CHECK(back.bs.array_axis_deg == 1.0 / 3.0, "exact double");
        CHECK(back.bs.pattern == INVCSI_STREET_PATTERN_TR38901, "pattern");
        char *t2 = print_scene(&back);
        CHECK(t2 && !strcmp(t, t2), "print(parse(print)) == print");
        free(t2);
    }
    free(t);
}

/* Every truncation and many single-byte corruptions of the default scene text fail cleanly
 * (or, for a harmless corruption, parse to a scene that passes the checks). */
static void test_corruptions(void)
{
    invcsi_street_scene def, s;
    invcsi_street_scene_default(&def);
    char *t = print_scene(&def);
    if (!t)
        return;
    const size_t n = strlen(t);
    invcsi_error err;
    int bad = 0;
    for (size_t k = 0; k + 1 < n; k++) {   /* the last byte is a newline: optional */
        int rc = invcsi_street_scene_parse(t, k, "cut", &s, &err);
        bad += rc == 0 || err.msg[0] == '\0';
    }
    CHECK(bad == 0, "%d truncations parsed or gave no message", bad);
    char *m = malloc(n);
    unsigned long long x = 88172645463325252ULL;
    const char repl[] = "{}[],:\"0-9.eE xA\\";
    int ok_count = 0;
    for (int it = 0; it < 3000 && m; it++) {
        memcpy(m, t, n);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        m[x % n] = repl[(x >> 32) % (sizeof repl - 1)];
        invcsi_error_clear(&err);
        int rc = invcsi_street_scene_parse(m, n, "mut", &s, &err);
        if (rc == 0) {
            ok_count++;
            CHECK(invcsi_street_scene_check(&s, &err) == 0, "accepted scene fails check: %s", err.msg);
        } else {
            CHECK(err.msg[0] != '\0', "error without message");
        }
    }
    printf("  corruptions: %d of 3000 single-byte changes still parse (numbers changed)\n", ok_count);
    free(m);
    free(t);
}

int main(void)
{
    test_default_file();
    test_corruptions();
    test_bad_scenes();
    test_round_trip();
    return check_done("test_street_scene");
}

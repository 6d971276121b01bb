/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * MAT-file writer and loader through the C API: a written set comes back bit-exact
 * (values, positions, every config field, the command line), several write chunks are
 * stitched correctly, no PATH.tmp is left behind, and write/read failures are reported
 * with the file name instead of crashing; the DeepMIMO v2 struct
 * (DeepMIMO_dataset{1}.user{u}.channel, cells of structs) written by matio itself as
 * MAT v5 and v7.3 loads with the right element order and positions.
 */
#include "check.h"

#include "invcsi/channels.h"
#include "invcsi/matfile.h"

#include <math.h>
#include <matio.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Deterministic, distinct values (a simple LCG is enough here). */
static void fill(invcsi_channels *c, uint32_t seed)
{
    long total = 2L * c->n * invcsi_channels_sample_len(c);
    uint32_t s = seed;
    for (long j = 0; j < total; j++) {
        s = s * 1664525u + 1013904223u;
        c->h[j] = (float)((int32_t)s) / 2147483648.0f * 3.0f;
    }
}

static void roundtrip_small(void)
{
    invcsi_error err;
    invcsi_channels c, d;
    CHECK(invcsi_channels_alloc(&c, 7, 2, 3, 5, &err) == INVCSI_OK, "alloc: %s", err.msg);
    fill(&c, 1);
    c.pos = malloc(sizeof(float) * 3 * c.n);
    for (int i = 0; i < 3 * c.n; i++)
        c.pos[i] = 0.5f * i - 3.25f;
    snprintf(c.cfg.model, sizeof c.cfg.model, "cdl-e");
    c.cfg.fc_ghz = 28;
    c.cfg.bw_mhz = 50;
    c.cfg.ds_ns = 66;
    c.cfg.ds_lgstd = 0.25;
    c.cfg.k_factor_db = 9.27;
    c.cfg.seed = 0xfedcba9876543210ull; /* needs all 64 bits: stored as uint64 */
    const char *cmd = "invcsi-gen --model cdl-e --samples 7 -o 'a b.mat'";
    CHECK(invcsi_mat_write_channels("small.mat", &c, cmd, &err) == INVCSI_OK, "write: %s",
          err.msg);
    CHECK(!exists("small.mat.tmp"), "small.mat.tmp left behind");

    invcsi_mat_info info;
    int rc = invcsi_mat_read_channels_info("small.mat", &d, &info, &err);
    CHECK(rc == INVCSI_OK, "read: %s", err.msg);
    if (rc == INVCSI_OK) {
        CHECK(d.n == 7 && d.nr == 2 && d.nt == 3 && d.nc == 5, "sizes %d %d %d %d", d.n, d.nr,
              d.nt, d.nc);
        CHECK(memcmp(c.h, d.h, sizeof(float) * 2 * 7 * 30) == 0, "H differs");
        CHECK(d.pos && memcmp(c.pos, d.pos, sizeof(float) * 21) == 0, "pos differs");
        CHECK(!strcmp(d.cfg.model, "cdl-e"), "model '%s'", d.cfg.model);
        CHECK(d.cfg.seed == c.cfg.seed, "seed %llu", (unsigned long long)d.cfg.seed);
        CHECK(d.cfg.nr == 2 && d.cfg.nt == 3 && d.cfg.nc == 5, "cfg sizes");
        CHECK(d.cfg.fc_ghz == 28 && d.cfg.bw_mhz == 50 && d.cfg.ds_ns == 66 &&
                  d.cfg.ds_lgstd == 0.25 && d.cfg.k_factor_db == 9.27,
              "cfg numbers %g %g %g %g %g", d.cfg.fc_ghz, d.cfg.bw_mhz, d.cfg.ds_ns,
              d.cfg.ds_lgstd, d.cfg.k_factor_db);
        CHECK(!strcmp(info.kind, "invcsi") && !strcmp(info.variable, "H"), "kind %s var %s",
              info.kind, info.variable);
        CHECK(info.mat_version == 73, "mat version %d", info.mat_version);
        CHECK(info.format_version == INVCSI_MAT_FORMAT_VERSION, "format version %d",
              info.format_version);
        CHECK(!strcmp(info.command, cmd), "command '%s'", info.command);
    }
    invcsi_channels_free(&d);

    /* NLOS: K-factor NaN survives; no positions, no command; overwriting works. */
    free(c.pos);
    c.pos = NULL;
    c.cfg.k_factor_db = NAN;
    CHECK(invcsi_mat_write_channels("small.mat", &c, NULL, &err) == INVCSI_OK, "rewrite: %s",
          err.msg);
    rc = invcsi_mat_read_channels_info("small.mat", &d, &info, &err);
    CHECK(rc == INVCSI_OK, "reread: %s", err.msg);
    if (rc == INVCSI_OK) {
        CHECK(isnan(d.cfg.k_factor_db), "k_factor_db %g", d.cfg.k_factor_db);
        CHECK(d.pos == NULL, "positions appeared");
        CHECK(info.command[0] == '\0', "command '%s'", info.command);
    }
    invcsi_channels_free(&d);
    invcsi_channels_free(&c);
}

/* More values than one write chunk (4 Mi): appends of 1, 4096, 4 samples. */
static void roundtrip_chunked(void)
{
    invcsi_error err;
    invcsi_channels c, d;
    CHECK(invcsi_channels_alloc(&c, 4101, 1, 32, 32, &err) == INVCSI_OK, "alloc: %s", err.msg);
    fill(&c, 7);
    snprintf(c.cfg.model, sizeof c.cfg.model, "cdl-a");
    CHECK(invcsi_mat_write_channels("chunked.mat", &c, "test", &err) == INVCSI_OK, "write: %s",
          err.msg);
    int rc = invcsi_mat_read_channels("chunked.mat", &d, &err);
    CHECK(rc == INVCSI_OK, "read: %s", err.msg);
    if (rc == INVCSI_OK) {
        CHECK(d.n == 4101, "n %d", d.n);
        CHECK(memcmp(c.h, d.h, sizeof(float) * 2 * 4101 * 1024) == 0, "H differs");
    }
    invcsi_channels_free(&d);
    invcsi_channels_free(&c);
    unlink("chunked.mat");
}

static void failures(void)
{
    invcsi_error err;
    invcsi_channels c, d;
    invcsi_channels_alloc(&c, 2, 1, 2, 2, &err);
    invcsi_error_clear(&err);
    int rc = invcsi_mat_write_channels("no/such/dir/x.mat", &c, NULL, &err);
    CHECK(rc == INVCSI_EIO, "write into a missing directory: rc %d", rc);
    CHECK(strstr(err.msg, "no/such/dir/x.mat") != NULL, "message names the file: %s", err.msg);

    /* A directory in the way of the final rename: the error is reported and the
     * temporary file removed. */
    mkdir("adir.mat", 0755);
    rc = invcsi_mat_write_channels("adir.mat", &c, NULL, &err);
    CHECK(rc == INVCSI_EIO, "rename onto a directory: rc %d", rc);
    CHECK(strstr(err.msg, "adir.mat") != NULL, "message: %s", err.msg);
    CHECK(!exists("adir.mat.tmp"), "adir.mat.tmp left behind");
    rmdir("adir.mat");

    invcsi_channels empty;
    memset(&empty, 0, sizeof empty);
    unlink("never-written.mat");
    rc = invcsi_mat_write_channels("never-written.mat", &empty, NULL, &err);
    CHECK(rc == INVCSI_EINVAL, "empty set: rc %d", rc);
    CHECK(!exists("never-written.mat"), "an empty set was written");

    rc = invcsi_mat_read_channels("does-not-exist.mat", &d, &err);
    CHECK(rc == INVCSI_EIO, "missing file: rc %d", rc);
    CHECK(strstr(err.msg, "does-not-exist.mat") != NULL, "message: %s", err.msg);
    CHECK(d.h == NULL && d.n == 0, "output not left empty");
    invcsi_channels_free(&c);
}

/* DeepMIMO v2 layout as MATLAB saves it: a 1x1 cell holding a struct whose field
 * 'user' is a 1xU cell of structs with 'channel' (nr x nt x K complex double) and 'loc'. */
static int write_deepmimo_v2(const char *path, enum mat_ft version, int U, int nr, int nt,
                             int K)
{
    mat_t *m = Mat_CreateVer(path, NULL, version);
    if (!m)
        return -1;
    size_t one[2] = {1, 1}, ud[2] = {1, (size_t)U};
    matvar_t *users = Mat_VarCreate("user", MAT_C_CELL, MAT_T_CELL, 2, ud, NULL, 0);
    const char *user_fields[] = {"channel", "loc", NULL};
    for (int u = 0; u < U; u++) {
        matvar_t *s = Mat_VarCreateStruct2(NULL, 2, one, user_fields);
        size_t cd[3] = {(size_t)nr, (size_t)nt, (size_t)K};
        int n = nr * nt * K;
        double *re = malloc(n * sizeof(double)), *im = malloc(n * sizeof(double));
        for (int i = 0; i < n; i++) { /* MATLAB linear index i = r + nr*(t + nt*k) */
            re[i] = u * 1000 + i;
            im[i] = -0.5 * (u * 1000 + i);
        }
        mat_complex_split_t z = {re, im};
        matvar_t *ch = Mat_VarCreate("channel", MAT_C_DOUBLE, MAT_T_DOUBLE, 3, cd, &z,
                                     MAT_F_COMPLEX);
        free(re);
        free(im);
        double loc[3] = {u, 2.0 * u, 1.5};
        size_t ld[2] = {1, 3};
        Mat_VarSetStructFieldByName(s, "channel", 0, ch);
        Mat_VarSetStructFieldByName(
            s, "loc", 0, Mat_VarCreate("loc", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, ld, loc, 0));
        Mat_VarSetCell(users, u, s);
    }
    const char *bs_fields[] = {"user", NULL};
    matvar_t *bs = Mat_VarCreateStruct2(NULL, 2, one, bs_fields);
    Mat_VarSetStructFieldByName(bs, "user", 0, users);
    matvar_t *top = Mat_VarCreate("DeepMIMO_dataset", MAT_C_CELL, MAT_T_CELL, 2, one, NULL, 0);
    Mat_VarSetCell(top, 0, bs);
    int rc = Mat_VarWrite(m, top, MAT_COMPRESSION_NONE);
    Mat_VarFree(top);
    Mat_Close(m);
    return rc;
}

static void deepmimo_v2(void)
{
    const int U = 3, nr = 2, nt = 4, K = 5;
    const char *files[2] = {"dm2_v5.mat", "dm2_v73.mat"};
    enum mat_ft versions[2] = {MAT_FT_MAT5, MAT_FT_MAT73};
    for (int f = 0; f < 2; f++) {
        CHECK(write_deepmimo_v2(files[f], versions[f], U, nr, nt, K) == 0, "matio wrote %s",
              files[f]);
        invcsi_channels c;
        invcsi_mat_info info;
        invcsi_error err;
        int rc = invcsi_mat_read_channels_info(files[f], &c, &info, &err);
        CHECK(rc == INVCSI_OK, "%s: %s", files[f], err.msg);
        if (rc != INVCSI_OK)
            continue;
        CHECK(!strcmp(info.kind, "deepmimo-v2"), "%s: kind %s", files[f], info.kind);
        CHECK(c.n == U && c.nr == nr && c.nt == nt && c.nc == K, "%s: sizes %d %d %d %d",
              files[f], c.n, c.nr, c.nt, c.nc);
        int bad = 0;
        for (int u = 0; u < U; u++)
            for (int r = 0; r < nr; r++)
                for (int t = 0; t < nt; t++)
                    for (int k = 0; k < K; k++) {
                        double want = u * 1000 + r + nr * (t + nt * k);
                        const float *h = c.h + 2 * (((u * nr + r) * nt + t) * K + k);
                        bad += h[0] != (float)want || h[1] != (float)(-0.5 * want);
                    }
        CHECK(bad == 0, "%s: %d values misplaced", files[f], bad);
        CHECK(c.pos && c.pos[3 * 2 + 0] == 2 && c.pos[3 * 2 + 1] == 4 && c.pos[3 * 2 + 2] == 1.5f,
              "%s: positions", files[f]);
        invcsi_channels_free(&c);
    }
}

int main(void)
{
    roundtrip_small();
    roundtrip_chunked();
    failures();
    deepmimo_v2();
    return check_done("test_matfile");
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * CDL generator: same seed -> identical bytes; 1, 2 and 3 threads -> identical bytes;
 * another seed -> other data; bad parameters -> INVCSI_EINVAL with a message; model
 * names; the recorded configuration; the progress callback (on the calling thread, ends
 * with done == total).
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "check.h"
#include "invcsi/cdl.h"

static size_t bytes_of(const invcsi_channels *c)
{
    return (size_t)c->n * c->nr * c->nt * c->nc * 2 * sizeof(float);
}

static int gen(const invcsi_cdl_params *p, int n, invcsi_channels *c)
{
    invcsi_error err;
    int rc = invcsi_cdl_generate(p, n, c, NULL, NULL, &err);
    if (rc)
        fprintf(stderr, "generate failed: %s\n", err.msg);
    return rc;
}

struct progress_log {
    pthread_t caller;
    int calls, wrong_thread, non_monotonic;
    long last_done, last_total;
};

static void progress_cb(void *ctx, long done, long total)
{
    struct progress_log *l = ctx;
    l->calls++;
    if (!pthread_equal(pthread_self(), l->caller))
        l->wrong_thread++;
    if (done < l->last_done)
        l->non_monotonic++;
    l->last_done = done;
    l->last_total = total;
}

/* Expects INVCSI_EINVAL and a message containing `word`. */
static void expect_einval(const invcsi_cdl_params *p, int n, const char *word, const char *what)
{
    invcsi_channels c;
    invcsi_error err;
    invcsi_error_clear(&err);
    int rc = invcsi_cdl_generate(p, n, &c, NULL, NULL, &err);
    CHECK(rc == INVCSI_EINVAL && strstr(err.msg, word), "%s: rc=%d msg='%s'", what, rc, err.msg);
    if (rc == INVCSI_OK)
        invcsi_channels_free(&c);
    else
        printf("  %-28s -> %s\n", what, err.msg);
}

int main(void)
{
    const int n = 300;
    invcsi_cdl_params p;
    invcsi_cdl_params_default(&p, INVCSI_CDL_C);
    p.nt = 8;
    p.nr = 2;
    p.nc = 16;
    p.ds_lgstd = 0.2;
    p.seed = 1234;

    invcsi_channels a, b, t1, t2, t3, other;
    p.threads = 0;
    CHECK(gen(&p, n, &a) == 0 && gen(&p, n, &b) == 0, "generate");
    CHECK(memcmp(a.h, b.h, bytes_of(&a)) == 0, "same seed gives identical bytes");
    p.threads = 1;
    CHECK(gen(&p, n, &t1) == 0, "generate threads=1");
    p.threads = 2;
    CHECK(gen(&p, n, &t2) == 0, "generate threads=2");
    p.threads = 3;
    CHECK(gen(&p, n, &t3) == 0, "generate threads=3");
    CHECK(memcmp(t1.h, t2.h, bytes_of(&a)) == 0, "threads=1 and threads=2 give identical bytes");
    CHECK(memcmp(t1.h, t3.h, bytes_of(&a)) == 0, "threads=1 and threads=3 give identical bytes");
    CHECK(memcmp(t1.h, a.h, bytes_of(&a)) == 0, "threads=1 and default give identical bytes");
    p.seed = 1235;
    CHECK(gen(&p, n, &other) == 0, "generate other seed");
    long same = 0;
    for (size_t i = 0; i < bytes_of(&a) / sizeof(float); i++)
        same += a.h[i] == other.h[i];
    CHECK(same == 0, "another seed gives other data (%ld equal floats)", same);

    /* A prefix of a longer run equals the shorter run (one RNG stream per sample). */
    invcsi_channels longer;
    p.seed = 1234;
    CHECK(gen(&p, 2 * n, &longer) == 0, "generate 2n");
    CHECK(memcmp(longer.h, a.h, bytes_of(&a)) == 0, "first n of 2n samples equal the n-sample run");

    /* recorded configuration */
    CHECK(strcmp(a.cfg.model, "cdl-c") == 0, "cfg.model '%s'", a.cfg.model);
    CHECK(a.cfg.nr == 2 && a.cfg.nt == 8 && a.cfg.nc == 16, "cfg sizes");
    CHECK(a.cfg.seed == 1234 && a.cfg.fc_ghz == 28.0 && a.cfg.bw_mhz == 50.0 &&
              a.cfg.ds_ns == 66.0 && a.cfg.ds_lgstd == 0.2 && isnan(a.cfg.k_factor_db),
          "cfg values");
    invcsi_channels_free(&a);
    invcsi_channels_free(&b);
    invcsi_channels_free(&t1);
    invcsi_channels_free(&t2);
    invcsi_channels_free(&t3);
    invcsi_channels_free(&other);
    invcsi_channels_free(&longer);

    /* the other code paths (LOS + K-factor, angle scaling, the nc_full remedy, nr > 1) are
     * thread-count independent too */
    {
        invcsi_cdl_params r;
        invcsi_cdl_params_default(&r, INVCSI_CDL_D);
        r.nt = 4;
        r.nr = 3;
        r.nc = 8;
        r.nc_full = 100;
        r.k_factor_db = 4.0;
        r.asd_deg = 7.0;
        r.asa_deg = 25.0;
        r.ds_lgstd = 0.3;
        invcsi_channels x1, x2;
        r.threads = 1;
        CHECK(gen(&r, 64, &x1) == 0, "generate remedy threads=1");
        r.threads = 2;
        CHECK(gen(&r, 64, &x2) == 0, "generate remedy threads=2");
        CHECK(memcmp(x1.h, x2.h, bytes_of(&x1)) == 0,
              "CDL-D with K, angle scaling, nc_full: threads=1 and 2 give identical bytes");
        CHECK(fabs(x1.cfg.k_factor_db - 4.0) < 1e-12, "cfg K %g", x1.cfg.k_factor_db);
        invcsi_channels_free(&x1);
        invcsi_channels_free(&x2);
    }

    /* progress */
    struct progress_log log = {.caller = pthread_self()};
    invcsi_channels c;
    invcsi_error err;
    p.threads = 2;
    CHECK(invcsi_cdl_generate(&p, 1000, &c, progress_cb, &log, &err) == 0, "generate w/ progress");
    invcsi_channels_free(&c);
    CHECK(log.calls >= 2 && log.wrong_thread == 0 && log.non_monotonic == 0 &&
              log.last_done == 1000 && log.last_total == 1000,
          "progress: %d calls, %d off the calling thread, last %ld/%ld", log.calls,
          log.wrong_thread, log.last_done, log.last_total);

    /* model names */
    invcsi_cdl_model m;
    CHECK(invcsi_cdl_model_parse("CDL-C", &m, NULL) == 0 && m == INVCSI_CDL_C, "parse CDL-C");
    CHECK(invcsi_cdl_model_parse("cdl_e", &m, NULL) == 0 && m == INVCSI_CDL_E, "parse cdl_e");
    CHECK(invcsi_cdl_model_parse("a", &m, NULL) == 0 && m == INVCSI_CDL_A, "parse a");
    CHECK(invcsi_cdl_model_parse("cdl-f", &m, &err) == INVCSI_EINVAL && strstr(err.msg, "cdl-f"),
          "parse cdl-f refused: %s", err.msg);
    CHECK(invcsi_cdl_model_parse("", &m, &err) == INVCSI_EINVAL, "parse '' refused");
    CHECK(invcsi_cdl_model_parse("cdl-cc", &m, &err) == INVCSI_EINVAL, "parse cdl-cc refused");
    CHECK(strcmp(invcsi_cdl_model_name(INVCSI_CDL_D), "cdl-d") == 0, "name of D");

    /* bad parameters */
    invcsi_cdl_params q;
#define BAD(field, value, word)                                                                \
    do {                                                                                       \
        invcsi_cdl_params_default(&q, INVCSI_CDL_C);                                           \
        q.field = value;                                                                       \
        expect_einval(&q, 4, word, #field " = " #value);                                       \
    } while (0)
    BAD(nt, 0, "nt");
    BAD(nr, -1, "nr");
    BAD(nc, 0, "nc");
    BAD(nt, 1 << 20, "per sample");
    BAD(fc_ghz, 0.0, "fc_ghz");
    BAD(fc_ghz, NAN, "fc_ghz");
    BAD(bw_mhz, -50.0, "bw_mhz");
    BAD(ds_ns, 0.0, "ds_ns");
    BAD(ds_lgstd, -0.1, "ds_lgstd");
    BAD(nc_full, 32, "nc_full");
    BAD(nc_full, 16, "nc_full");
    BAD(asd_deg, 200.0, "asd_deg");
    BAD(asa_deg, -1.0, "asa_deg");
    BAD(k_factor_db, 6.0, "K-factor");
    BAD(threads, -2, "threads");
    BAD(model, (invcsi_cdl_model)7, "model");
    invcsi_cdl_params_default(&q, INVCSI_CDL_C);
    expect_einval(&q, 0, "samples", "n = 0");
    /* a valid remedy setting is accepted */
    invcsi_cdl_params_default(&q, INVCSI_CDL_D);
    q.nc_full = 1024;
    q.k_factor_db = 7.0;
    CHECK(invcsi_cdl_params_check(&q, &err) == 0, "valid params accepted: %s", err.msg);

    return check_done("test_cdl_determinism");
}

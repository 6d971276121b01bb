/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * invcsi-info: loads a channel-set .mat file with the library's loader (our own files,
 * DeepMIMO arrays and structs, CsiNet/COST2100 HT) and prints what it holds, or the
 * values of one sample so scripts can compare them with Python.
 */
#include "cli.h"

#include "invcsi/channels.h"
#include "invcsi/matfile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *PROG = "invcsi-info";

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s FILE.mat [--sample I]\n"
            "\n"
            "Loads FILE.mat with the gr-invcsi loader and prints a summary: the kind of file,\n"
            "sizes (n samples of nr x nt x nc), carrier, bandwidth, delay spread, seed, mean\n"
            "power per entry and the smallest/largest per-sample power.\n"
            "\n"
            "Supported files (auto-detected):\n"
            "  invcsi      H + config, written by invcsi-gen (MAT v7.3)\n"
            "  deepmimo    complex 'channels' or 'channel' array (users, nr, nt, nc) in numpy\n"
            "              order (scipy v5 files: MATLAB size users x nr x nt x nc; h5py v7.3\n"
            "              files: MATLAB size nc x nt x nr x users)\n"
            "  deepmimo-v2 DeepMIMO_dataset{1}.user{u}.channel (nr x nt x K per user)\n"
            "  cost2100    CsiNet/COST2100 'HT' (N x 2048 in [0, 1]), converted to the\n"
            "              frequency domain (nr 1, nt 32, nc 32)\n"
            "\n"
            "Options:\n"
            "  --sample I  print sample I (0-based) instead of the summary, one value per line:\n"
            "              \"r t k re im\" (re, im with %%.9g, i.e. exact float32)\n"
            "  -h, --help  this text\n"
            "\n"
            "Exit status: 0 ok, 1 the file cannot be loaded (reason on stderr), 2 bad usage.\n",
            PROG);
}

static void print_summary(const char *path, const invcsi_channels *c, const invcsi_mat_info *info)
{
    const invcsi_channel_config *cfg = &c->cfg;
    long len = invcsi_channels_sample_len(c);
    double total = 0, pmin = INFINITY, pmax = -INFINITY;
    for (long i = 0; i < c->n; i++) {
        const float *h = c->h + 2 * i * len;
        double p = 0;
        for (long j = 0; j < 2 * len; j++)
            p += (double)h[j] * h[j];
        total += p;
        p /= len;
        if (p < pmin) pmin = p;
        if (p > pmax) pmax = p;
    }
    printf("file:            %s\n", path);
    printf("kind:            %s (variable %s, MAT v%s", info->kind, info->variable,
           info->mat_version == 73 ? "7.3" : info->mat_version == 5 ? "5" : "4");
    if (info->format_version)
        printf(", format version %d", info->format_version);
    printf(")\n");
    printf("model:           %s\n", cfg->model);
    printf("samples (n):     %d\n", c->n);
    printf("nr x nt x nc:    %d x %d x %d\n", c->nr, c->nt, c->nc);
    if (cfg->fc_ghz > 0) printf("carrier:         %g GHz\n", cfg->fc_ghz);
    else printf("carrier:         unknown\n");
    if (cfg->bw_mhz > 0) printf("bandwidth:       %g MHz\n", cfg->bw_mhz);
    else printf("bandwidth:       unknown\n");
    if (cfg->ds_ns > 0)
        printf("delay spread:    %g ns (std of log10 DS %g)\n", cfg->ds_ns, cfg->ds_lgstd);
    else
        printf("delay spread:    n/a\n");
    if (isfinite(cfg->k_factor_db)) printf("K-factor:        %g dB\n", cfg->k_factor_db);
    printf("seed:            %llu\n", (unsigned long long)cfg->seed);
    printf("mean power per entry:      %.6g\n", total / ((double)c->n * len));
    printf("per-sample power (mean |h|^2 over a sample): min %.6g, max %.6g\n", pmin, pmax);
    if (c->pos) {
        float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
        for (long i = 0; i < c->n; i++)
            for (int j = 0; j < 3; j++) {
                lo[j] = fminf(lo[j], c->pos[3 * i + j]);
                hi[j] = fmaxf(hi[j], c->pos[3 * i + j]);
            }
        printf("positions:       x [%g, %g] m, y [%g, %g] m, z [%g, %g] m\n", lo[0], hi[0], lo[1],
               hi[1], lo[2], hi[2]);
    } else {
        printf("positions:       none\n");
    }
    if (info->command[0])
        printf("command:         %s\n", info->command);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int sample = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--sample")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: --sample needs a value\n", PROG);
                return 2;
            }
            if (cli_parse_int(PROG, "--sample", argv[++i], 0, 2147483647L, &sample) != 0)
                return 2;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", PROG, a);
            return 2;
        } else if (!path) {
            path = a;
        } else {
            fprintf(stderr, "%s: more than one file given ('%s', '%s')\n", PROG, path, a);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "%s: no file given (see --help)\n", PROG);
        return 2;
    }

    invcsi_channels c;
    invcsi_mat_info info;
    invcsi_error err;
    invcsi_error_clear(&err);
    if (invcsi_mat_read_channels_info(path, &c, &info, &err) != INVCSI_OK) {
        fprintf(stderr, "%s: %s\n", PROG, err.msg);
        return 1;
    }
    if (sample >= 0) {
        if (sample >= c.n) {
            fprintf(stderr, "%s: --sample %d out of range: %s holds %d samples\n", PROG, sample,
                    path, c.n);
            invcsi_channels_free(&c);
            return 2;
        }
        const float *h = c.h + 2L * sample * invcsi_channels_sample_len(&c);
        for (int r = 0; r < c.nr; r++)
            for (int t = 0; t < c.nt; t++)
                for (int k = 0; k < c.nc; k++, h += 2)
                    printf("%d %d %d %.9g %.9g\n", r, t, k, h[0], h[1]);
    } else {
        print_summary(path, &c, &info);
    }
    invcsi_channels_free(&c);
    return 0;
}

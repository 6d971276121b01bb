/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * bench_gen: CDL generation speed (samples per second) with 1 and with 2 threads, and
 * their ratio. The two runs produce identical bytes (checked here too), so the ratio is
 * pure parallel speed-up.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "invcsi/cdl.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: bench_gen [options]\n"
            "Measures invcsi_cdl_generate speed with 1 and 2 threads (samples/s).\n"
            "  -m, --model NAME   cdl-a .. cdl-e (default cdl-c)\n"
            "  -n, --samples N    samples per run (default 20000)\n"
            "      --nt N         BS antennas (default 32)\n"
            "      --nr N         UE antennas (default 1)\n"
            "      --nc N         subcarriers (default 32)\n"
            "      --nc-full N    CsiNet remedy: subcarriers before truncation (default 0 = off)\n"
            "      --repeat R     runs per thread count, best one kept (default 3)\n"
            "  -h, --help         this text\n");
}

static double run(const invcsi_cdl_params *p, int n, int repeat, invcsi_channels *keep)
{
    double best = 1e300;
    for (int i = 0; i < repeat; i++) {
        invcsi_channels c;
        invcsi_error err;
        double t0 = cli_now();
        if (invcsi_cdl_generate(p, n, &c, NULL, NULL, &err)) {
            fprintf(stderr, "bench_gen: %s\n", err.msg);
            exit(1);
        }
        double dt = cli_now() - t0;
        if (dt < best)
            best = dt;
        if (keep && i == 0)
            *keep = c;
        else
            invcsi_channels_free(&c);
    }
    return n / best;
}

int main(int argc, char **argv)
{
    const char *prog = "bench_gen";
    invcsi_cdl_model model = INVCSI_CDL_C;
    int n = 20000, repeat = 3;
    invcsi_cdl_params p;
    invcsi_cdl_params_default(&p, model);
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},  {"samples", required_argument, 0, 'n'},
        {"nt", required_argument, 0, 1},       {"nr", required_argument, 0, 2},
        {"nc", required_argument, 0, 3},       {"nc-full", required_argument, 0, 4},
        {"repeat", required_argument, 0, 5},   {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int nt = p.nt, nr = p.nr, nc = p.nc, nc_full = 0;
    int o;
    while ((o = getopt_long(argc, argv, "m:n:h", opts, NULL)) != -1) {
        int bad = 0;
        switch (o) {
        case 'm': {
            invcsi_error err;
            if (invcsi_cdl_model_parse(optarg, &model, &err)) {
                fprintf(stderr, "%s: %s\n", prog, err.msg);
                return 2;
            }
            break;
        }
        case 'n': bad = cli_parse_int(prog, "--samples", optarg, 1, 100000000, &n); break;
        case 1: bad = cli_parse_int(prog, "--nt", optarg, 1, 4096, &nt); break;
        case 2: bad = cli_parse_int(prog, "--nr", optarg, 1, 4096, &nr); break;
        case 3: bad = cli_parse_int(prog, "--nc", optarg, 1, 1 << 20, &nc); break;
        case 4: bad = cli_parse_int(prog, "--nc-full", optarg, 0, 1 << 22, &nc_full); break;
        case 5: bad = cli_parse_int(prog, "--repeat", optarg, 1, 100, &repeat); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (bad)
            return 2;
    }
    invcsi_cdl_params_default(&p, model);
    p.nt = nt;
    p.nr = nr;
    p.nc = nc;
    p.nc_full = nc_full;

    invcsi_channels c1, c2;
    p.threads = 1;
    double r1 = run(&p, n, repeat, &c1);
    p.threads = 2;
    double r2 = run(&p, n, repeat, &c2);
    size_t bytes = (size_t)n * nr * nt * nc * 2 * sizeof(float);
    int same = memcmp(c1.h, c2.h, bytes) == 0;
    invcsi_channels_free(&c1);
    invcsi_channels_free(&c2);

    printf("bench_gen: %s, nt=%d nr=%d nc=%d nc_full=%d, %d samples, best of %d\n",
           invcsi_cdl_model_name(model), nt, nr, nc, nc_full, n, repeat);
    printf("  1 thread : %10.0f samples/s\n", r1);
    printf("  2 threads: %10.0f samples/s\n", r2);
    printf("  ratio    : %10.2f x   (outputs %s)\n", r2 / r1,
           same ? "identical" : "DIFFER: bug");
    return same ? 0 : 1;
}

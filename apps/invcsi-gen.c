/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * invcsi-gen: generates a channel data set and writes it as a MAT v7.3 file
 * (H, config, see include/invcsi/matfile.h) that MATLAB, scipy/h5py and every gr-invcsi
 * program read.
 *
 * Models are entries of one table (name, help, generator): a new source (e.g. a street
 * ray tracer) is one more entry and one generator function.
 */
#include "cli.h"

#include "invcsi/cdl.h"
#include "invcsi/street.h"
#include "invcsi/channels.h"
#include "invcsi/matfile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static const char *PROG = "invcsi-gen";

#define DEFAULT_SAMPLES 1000

/* Every option, parsed; model-specific ones are NAN/0 when not given. */
typedef struct gen_options {
    const char *model;
    int samples;
    uint64_t seed;
    int nt, nr, nc;
    double fc_ghz, bw_mhz, ds_ns, ds_lgstd;
    double asd_deg, asa_deg, k_db;
    int nc_full;
    int threads;
    int quiet;
    int normalize;        /* 1: every sample to unit mean power (--normalize sample) */
    const char *out;
    /* street model */
    const char *scene;    /* scene file, NULL = built-in default */
    int print_scene;
    int max_order;        /* -1 = the tracer's default */
    double min_rel_db;    /* NAN = the tracer's default */
} gen_options;

/* What a generator reports for the summary besides the channels themselves. */
typedef struct gen_report {
    int has_delay_info;
    double window_ns;     /* delay window of the angular-delay image, nc / bw */
    double max_delay_ns;  /* largest scaled cluster delay at the median DS */
    double max_delay_hi_ns; /* ... at the DS two log-std above the median (ds_lgstd > 0) */
    char extra[768];        /* model-specific summary lines */
} gen_report;

typedef int (*gen_fn)(const gen_options *o, invcsi_channels *out, struct cli_progress *prog,
                      gen_report *rep, invcsi_error *err);

typedef struct gen_model {
    const char *name;
    const char *help;
    gen_fn generate;
} gen_model;

/* ---- CDL-A..E (3GPP TR 38.901 7.7.1) ---- */

static int cdl_params_from_options(const gen_options *o, invcsi_cdl_params *p, invcsi_error *err)
{
    invcsi_cdl_model m;
    int rc = invcsi_cdl_model_parse(o->model, &m, err);
    if (rc != INVCSI_OK)
        return rc;
    invcsi_cdl_params_default(p, m);
    p->nt = o->nt;
    p->nr = o->nr;
    p->nc = o->nc;
    p->fc_ghz = o->fc_ghz;
    p->bw_mhz = o->bw_mhz;
    p->ds_ns = o->ds_ns;
    p->ds_lgstd = o->ds_lgstd;
    p->asd_deg = o->asd_deg;
    p->asa_deg = o->asa_deg;
    p->k_factor_db = o->k_db;
    p->nc_full = o->nc_full;
    p->seed = o->seed;
    p->threads = o->threads;
    return invcsi_cdl_params_check(p, err);
}

static int gen_cdl(const gen_options *o, invcsi_channels *out, struct cli_progress *prog,
                   gen_report *rep, invcsi_error *err)
{
    invcsi_cdl_params p;
    int rc = cdl_params_from_options(o, &p, err);
    if (rc != INVCSI_OK)
        return rc;
    rep->has_delay_info = 1;
    rep->window_ns = invcsi_delay_window_ns(p.nc, p.bw_mhz);
    rep->max_delay_ns = invcsi_cdl_max_delay_ns(p.model, p.ds_ns);
    rep->max_delay_hi_ns = invcsi_cdl_max_delay_ns(p.model, p.ds_ns * pow(10.0, 2 * p.ds_lgstd));
    return invcsi_cdl_generate(&p, o->samples, out, cli_progress_cb, prog, err);
}

/* ---- street intersection (image-method ray tracer, street.h) ---- */

static int street_scene_from_options(const gen_options *o, invcsi_street_scene *s,
                                     invcsi_error *err)
{
    if (o->scene)
        return invcsi_street_scene_load(o->scene, s, err);
    invcsi_street_scene_default(s);
    return INVCSI_OK;
}

static int gen_street(const gen_options *o, invcsi_channels *out, struct cli_progress *prog,
                      gen_report *rep, invcsi_error *err)
{
    invcsi_street_scene scene;
    int rc = street_scene_from_options(o, &scene, err);
    if (rc != INVCSI_OK)
        return rc == INVCSI_EINVAL ? INVCSI_EFORMAT : rc; /* a bad scene file is not a bad option */
    invcsi_street_params p;
    invcsi_street_params_default(&p);
    p.nt = o->nt;
    p.nr = o->nr;
    p.nc = o->nc;
    p.fc_ghz = o->fc_ghz;
    p.bw_mhz = o->bw_mhz;
    p.nc_full = o->nc_full;
    p.seed = o->seed;
    p.threads = o->threads;
    if (o->max_order >= 0)
        p.max_order = o->max_order;
    if (!isnan(o->min_rel_db))
        p.min_rel_db = o->min_rel_db;
    invcsi_street_stats st;
    rc = invcsi_street_generate(&scene, &p, o->samples, out, &st, cli_progress_cb, prog, err);
    if (rc != INVCSI_OK)
        return rc;
    snprintf(rep->extra, sizeof rep->extra,
             "scene:           %s (%s), %d buildings, up to %d reflections, paths within %g dB\n"
             "users:           %ld grid users, %ld traced, %ld without a path (skipped)\n"
             "street figures:  LOS %.1f %%, %.2f paths per user, median RMS delay spread %.1f ns, "
             "median path gain %.1f dB\n",
             scene.name, o->scene ? o->scene : "built-in", scene.n_buildings, p.max_order,
             p.min_rel_db, st.grid_users - st.inside_buildings, st.traced, st.no_path,
             st.samples ? 100.0 * st.los / st.samples : 0.0, st.mean_paths, st.median_ds_ns,
             st.median_power_db);
    return INVCSI_OK;
}

static int print_street_scene(const gen_options *o)
{
    invcsi_street_scene s;
    invcsi_error err;
    char *text = NULL;
    if (street_scene_from_options(o, &s, &err) != INVCSI_OK ||
        invcsi_street_scene_to_json(&s, &text, &err) != INVCSI_OK) {
        fprintf(stderr, "%s: %s\n", PROG, err.msg);
        return 1;
    }
    fputs(text, stdout);
    free(text);
    return 0;
}

static const gen_model MODELS[] = {
    {"cdl-a", "3GPP TR 38.901 CDL-A (NLOS)", gen_cdl},
    {"cdl-b", "3GPP TR 38.901 CDL-B (NLOS)", gen_cdl},
    {"cdl-c", "3GPP TR 38.901 CDL-C (NLOS)", gen_cdl},
    {"cdl-d", "3GPP TR 38.901 CDL-D (LOS, K 8.98 dB)", gen_cdl},
    {"cdl-e", "3GPP TR 38.901 CDL-E (LOS, K 9.27 dB)", gen_cdl},
    {"street", "ray-traced street intersection (--scene FILE.json)", gen_street},
};
#define N_MODELS (int)(sizeof MODELS / sizeof MODELS[0])

static const gen_model *find_model(const char *name)
{
    for (int i = 0; i < N_MODELS; i++)
        if (!strcasecmp(name, MODELS[i].name))
            return &MODELS[i];
    return NULL;
}

/* ---- command line ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s [options] -o FILE.mat\n"
            "\n"
            "Generates a seeded, reproducible channel data set: n samples of the frequency-\n"
            "domain channel H (nr x nt x nc) and writes FILE.mat (MAT v7.3 = HDF5: variables H,\n"
            "config[, pos]; h5py sees H with shape (n, nr, nt, nc)). The file is written to\n"
            "FILE.mat.tmp and renamed at the end, so an interrupted run leaves no half file.\n"
            "\n"
            "Options (default in brackets):\n"
            "  --model M       channel model [cdl-c]:\n",
            PROG);
    for (int i = 0; i < N_MODELS; i++)
        fprintf(f, "                    %-6s %s\n", MODELS[i].name, MODELS[i].help);
    fprintf(f,
            "  --samples N     number of samples [%d]; street: 0 = every grid user with a path\n"
            "  --seed S        random seed; same seed, same data on any thread count [1]\n"
            "  --ds-ns DS      median delay spread in ns [66: 38.901 UMi street canyon, 28 GHz]\n"
            "  --ds-lgstd L    std of log10(DS) across samples; 0 = every sample at DS\n"
            "                  [0.51: 38.901 UMi street canyon NLOS, 28 GHz]\n"
            "  --nt N          BS (transmit) antennas, half-wavelength ULA [32]\n"
            "  --nr N          UE (receive) antennas [1]\n"
            "  --nc N          subcarriers spread across the band [32]\n"
            "  --fc-ghz F      carrier frequency in GHz [28]\n"
            "  --bw-mhz B      bandwidth spanned by the nc subcarriers in MHz [50]\n"
            "  --asd-deg A     scale departure angles to this azimuth spread (38.901 7.7.5.1)\n"
            "                  [the table's own]\n"
            "  --asa-deg A     same for the arrival azimuth spread [the table's own]\n"
            "  --k-db K        LOS K-factor in dB, cdl-d and cdl-e only [the table's own]\n"
            "  --nc-full F     remedy for delays beyond the window nc/bw: generate F > nc\n"
            "                  subcarriers, go to the delay domain, keep the first nc taps\n"
            "                  (CsiNet's truncation) [0 = off]\n"
            "Street model (ray tracer; --ds-*, --asd/asa-deg and --k-db do not apply):\n"
            "  --scene F       scene file (JSON: buildings, materials, BS, user grid; the format\n"
            "                  is in README.md) [the built-in intersection]\n"
            "  --print-scene   print the scene (default or --scene F) as JSON and exit\n"
            "  --max-order K   wall reflections per path, 0..3 [2]\n"
            "  --min-rel-db D  drop paths more than D dB below a user's strongest [40]\n"
            "  --normalize N   none | sample: sample scales every sample to unit mean power\n"
            "                  per entry (the InvCSINet paper's normalised data; use it for\n"
            "                  street, whose users span 40+ dB of path gain) [none]\n"
            "  --threads T     worker threads; 0 = OpenMP default (OMP_NUM_THREADS) [0]\n"
            "  --quiet         no progress on stderr\n"
            "  -o, --output F  output .mat file (required)\n"
            "  -h, --help      this text\n"
            "\n"
            "At the end a summary goes to stdout: model, sizes, mean power per entry, the delay\n"
            "window nc/bw against the largest scaled cluster delay (with a WARNING when a\n"
            "delay wraps around, and the --nc-full remedy), samples/s and the output path.\n"
            "Exit status: 0 ok, 1 generation or writing failed, 2 bad options.\n",
            DEFAULT_SAMPLES);
}

static int parse_normalize(const char *v, int *out)
{
    if (!strcasecmp(v, "none") || !strcasecmp(v, "sample")) {
        *out = !strcasecmp(v, "sample");
        return 0;
    }
    fprintf(stderr, "%s: bad value '%s' for --normalize: give none or sample\n", PROG, v);
    return -1;
}

static int parse_options(int argc, char **argv, gen_options *o)
{
    memset(o, 0, sizeof *o);
    invcsi_cdl_params d;
    invcsi_cdl_params_default(&d, INVCSI_CDL_C);
    o->model = "cdl-c";
    o->samples = DEFAULT_SAMPLES;
    o->seed = d.seed;
    o->nt = d.nt;
    o->nr = d.nr;
    o->nc = d.nc;
    o->fc_ghz = d.fc_ghz;
    o->bw_mhz = d.bw_mhz;
    o->ds_ns = d.ds_ns;
    o->ds_lgstd = d.ds_lgstd;
    o->asd_deg = NAN;
    o->asa_deg = NAN;
    o->k_db = NAN;
    o->nc_full = 0;
    o->threads = 0;
    o->max_order = -1;
    o->min_rel_db = NAN;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int m = 0, bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--print-scene")) {
            o->print_scene = 1;
        } else if (!strcmp(a, "-o")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: -o needs a file name\n", PROG);
                return -1;
            }
            o->out = argv[++i];
        }
#define OPT(NAME, PARSE)                                          \
        else if ((v = cli_opt_value(PROG, argc, argv, &i, NAME, &m)) || m) { \
            if (!v) return -1;                                    \
            bad = (PARSE) != 0;                                   \
        }
        OPT("--output", (o->out = v, 0))
        OPT("--model", (o->model = v, 0))
        OPT("--samples", cli_parse_int(PROG, "--samples", v, 0, 2147483647L, &o->samples))
        OPT("--scene", (o->scene = v, 0))
        OPT("--max-order", cli_parse_int(PROG, "--max-order", v, 0, INVCSI_STREET_MAX_ORDER, &o->max_order))
        OPT("--min-rel-db", cli_parse_double(PROG, "--min-rel-db", v, 1e-3, 300, &o->min_rel_db))
        OPT("--seed", cli_parse_u64(PROG, "--seed", v, &o->seed))
        OPT("--ds-ns", cli_parse_double(PROG, "--ds-ns", v, 1e-3, 1e6, &o->ds_ns))
        OPT("--ds-lgstd", cli_parse_double(PROG, "--ds-lgstd", v, 0, 2, &o->ds_lgstd))
        OPT("--nt", cli_parse_int(PROG, "--nt", v, 1, 4096, &o->nt))
        OPT("--nr", cli_parse_int(PROG, "--nr", v, 1, 4096, &o->nr))
        OPT("--nc", cli_parse_int(PROG, "--nc", v, 1, 65536, &o->nc))
        OPT("--fc-ghz", cli_parse_double(PROG, "--fc-ghz", v, 1e-3, 1e4, &o->fc_ghz))
        OPT("--bw-mhz", cli_parse_double(PROG, "--bw-mhz", v, 1e-3, 1e6, &o->bw_mhz))
        OPT("--asd-deg", cli_parse_double(PROG, "--asd-deg", v, 1e-6, 179.999, &o->asd_deg))
        OPT("--asa-deg", cli_parse_double(PROG, "--asa-deg", v, 1e-6, 179.999, &o->asa_deg))
        OPT("--k-db", cli_parse_double(PROG, "--k-db", v, -50, 100, &o->k_db))
        OPT("--nc-full", cli_parse_int(PROG, "--nc-full", v, 0, 1 << 20, &o->nc_full))
        OPT("--normalize", parse_normalize(v, &o->normalize))
        OPT("--threads", cli_parse_int(PROG, "--threads", v, 0, 4096, &o->threads))
#undef OPT
        else if (a[0] == '-') {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", PROG, a);
            return -1;
        } else {
            fprintf(stderr, "%s: unexpected argument '%s' (the output file goes after -o)\n",
                    PROG, a);
            return -1;
        }
        if (bad)
            return -1;
    }
    if (o->print_scene)
        return 0;
    if (o->samples == 0 && strcasecmp(o->model, "street")) {
        fprintf(stderr, "%s: bad value '0' for --samples: 0 (every user) is for --model street only\n", PROG);
        return -1;
    }
    if ((o->scene || o->max_order >= 0 || !isnan(o->min_rel_db)) && strcasecmp(o->model, "street")) {
        fprintf(stderr, "%s: --scene, --max-order and --min-rel-db are for --model street only\n", PROG);
        return -1;
    }
    if (!o->out || !*o->out) {
        fprintf(stderr, "%s: no output file: give -o FILE.mat (see --help)\n", PROG);
        return -1;
    }
    if (!find_model(o->model)) {
        fprintf(stderr, "%s: unknown model '%s'; known:", PROG, o->model);
        for (int i = 0; i < N_MODELS; i++)
            fprintf(stderr, " %s", MODELS[i].name);
        fprintf(stderr, "\n");
        return -1;
    }
    return 0;
}

/* Smallest nc * 2^m (m >= 2) whose window nc_full / bw holds the delay: paths then
 * fold back only beyond it. */
static int suggest_nc_full(const gen_options *o, double delay_ns)
{
    long f = 4L * o->nc;
    while (invcsi_delay_window_ns((int)f, o->bw_mhz) <= delay_ns && f < (1L << 22) / 2)
        f *= 2;
    return (int)f;
}

static void print_summary(const gen_options *o, const invcsi_channels *c, const gen_report *rep,
                          double gen_s, double write_s)
{
    long len = invcsi_channels_sample_len(c);
    double sum = 0;
    for (long j = 0; j < 2 * (long)c->n * len; j++)
        sum += (double)c->h[j] * c->h[j];
    printf("model:           %s\n", c->cfg.model);
    printf("samples:         %d of nr %d x nt %d x nc %d (seed %llu)\n", c->n, c->nr, c->nt,
           c->nc, (unsigned long long)o->seed);
    printf("carrier/band:    %g GHz, %g MHz\n", o->fc_ghz, o->bw_mhz);
    printf("delay spread:    %g ns median, std of log10 DS %g\n", c->cfg.ds_ns, c->cfg.ds_lgstd);
    if (rep->extra[0])
        fputs(rep->extra, stdout);
    if (isfinite(c->cfg.k_factor_db))
        printf("K-factor:        %g dB\n", c->cfg.k_factor_db);
    printf("mean power per entry: %.6g\n", sum / ((double)c->n * len));
    if (rep->has_delay_info) {
        printf("delay window:    %.1f ns (nc / bw); largest scaled cluster delay %.1f ns at the "
               "median DS", rep->window_ns, rep->max_delay_ns);
        if (o->ds_lgstd > 0)
            printf(", %.1f ns at DS two std above it", rep->max_delay_hi_ns);
        printf("\n");
        double worst = o->ds_lgstd > 0 ? rep->max_delay_hi_ns : rep->max_delay_ns;
        if (worst >= rep->window_ns) {
            if (o->nc_full > 0 && worst >= invcsi_delay_window_ns(o->nc_full, o->bw_mhz))
                printf("WARNING:         a cluster delay exceeds even the --nc-full window "
                       "%.1f ns and wraps around; use --nc-full %d\n",
                       invcsi_delay_window_ns(o->nc_full, o->bw_mhz), suggest_nc_full(o, worst));
            else if (o->nc_full > 0)
                printf("note:            delays beyond %.1f ns are cut off by --nc-full %d (they "
                       "would wrap only beyond %.1f ns)\n", rep->window_ns, o->nc_full,
                       invcsi_delay_window_ns(o->nc_full, o->bw_mhz));
            else
                printf("WARNING:         a cluster delay exceeds the delay window and wraps around "
                       "in the angular-delay image; remedy: --nc-full %d (sample more "
                       "subcarriers, keep the first %d delay taps), or a smaller --ds-ns or "
                       "larger --nc\n", suggest_nc_full(o, worst), o->nc);
        } else {
            printf("                 every cluster delay fits in the window\n");
        }
    }
    printf("rate:            %.0f samples/s (generation %.2f s, writing %.2f s)\n",
           gen_s > 0 ? c->n / gen_s : 0.0, gen_s, write_s);
    struct stat st;
    if (stat(o->out, &st) == 0)
        printf("output:          %s (%.1f MB)\n", o->out, st.st_size / 1048576.0);
    else
        printf("output:          %s\n", o->out);
}

int main(int argc, char **argv)
{
    gen_options o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    if (o.print_scene)
        return print_street_scene(&o);
    const gen_model *model = find_model(o.model);

    invcsi_error err;
    invcsi_error_clear(&err);
    invcsi_channels c;
    memset(&c, 0, sizeof c);
    gen_report rep;
    memset(&rep, 0, sizeof rep);
    struct cli_progress prog;
    cli_progress_start(&prog, "generating", "samples", o.quiet);
    double t0 = cli_now();
    int rc = model->generate(&o, &c, &prog, &rep, &err);
    if (rc != INVCSI_OK) {
        fprintf(stderr, "%s: %s\n", PROG, err.msg);
        /* Parameter errors found by the generator are option errors. */
        return rc == INVCSI_EINVAL ? 2 : 1;
    }
    if (o.normalize) {
        double *gain_db = malloc((size_t)c.n * sizeof *gain_db);
        rc = gain_db ? invcsi_channels_normalize_samples(&c, gain_db, &err)
                     : invcsi_error_set(&err, INVCSI_ENOMEM, "out of memory for %d gains", c.n);
        if (rc == INVCSI_OK) {
            double lo = gain_db[0], hi = gain_db[0];
            for (int i = 1; i < c.n; i++) {
                lo = gain_db[i] < lo ? gain_db[i] : lo;
                hi = gain_db[i] > hi ? gain_db[i] : hi;
            }
            size_t used = strlen(rep.extra);
            snprintf(rep.extra + used, sizeof rep.extra - used,
                     "normalised:      every sample to unit mean power (gains removed: %.1f to "
                     "%.1f dB, a %.1f dB spread)\n",
                     lo, hi, hi - lo);
        }
        free(gain_db);
        if (rc != INVCSI_OK) {
            fprintf(stderr, "%s: %s\n", PROG, err.msg);
            invcsi_channels_free(&c);
            return 1;
        }
    }
    double t1 = cli_now();
    char *command = cli_join_command(argc, argv);
    rc = invcsi_mat_write_channels(o.out, &c, command, &err);
    free(command);
    double t2 = cli_now();
    if (rc != INVCSI_OK) {
        fprintf(stderr, "%s: %s\n", PROG, err.msg);
        invcsi_channels_free(&c);
        return 1;
    }
    print_summary(&o, &c, &rep, t1 - t0, t2 - t1);
    invcsi_channels_free(&c);
    return 0;
}

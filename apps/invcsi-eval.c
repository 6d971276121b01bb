/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * invcsi-eval: reconstruction quality of trained models on a channel data set, over the
 * ideal feedback link or (--snr-db, --ideal) through real bits: quantizer, BPSK over AWGN,
 * hard detection, decoder (include/invcsi/linkeval.h, the pipeline the GNU Radio blocks
 * share).
 *
 * For each weights file: reproduce the train/test split from the config stored in the
 * weights, preprocess with the stored normalisation, encode and decode in batches, undo
 * the scale, inverse DFT to H^, and compare with the original frequency-domain H:
 * NMSE (dB) and the generalised cosine similarity rho (include/invcsi/metrics.h).
 */
#include "cli.h"

#include "invcsi/bitlink.h"
#include "invcsi/channels.h"
#include "invcsi/invcsinet.h"
#include "invcsi/linkeval.h"
#include "invcsi/matfile.h"
#include "invcsi/metrics.h"
#include "invcsi/model.h"
#include "invcsi/pca.h"
#include "invcsi/report_codec.h"
#include "invcsi/safetensors.h"
#include "invcsi/stqenet.h"
#include "invcsi/train.h"
#include "invcsi/transform.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *PROG = "invcsi-eval";

#define MAX_WEIGHTS 32
#define MAX_SNR 32

typedef struct eval_cli {
    const char *data;
    const char *weights[MAX_WEIGHTS];
    int n_weights;
    const char *split;
    const char *csv;
    int batch;
    int threads;
    int pca;
    int quiet;
    /* the bit link */
    double snr_db[MAX_SNR];  /* INFINITY = error-free (quantization only) */
    int n_snr;
    int bits;                /* uniform quantizer of models without a DAQ */
    int bits_given;
    int mapping;
    int z_mode;              /* which decoder is "the" NMSE; both are reported */
    int detect;
    uint64_t seed;
    const char *plot;
    const char *device;
    /* --rd: rate-distortion table */
    int rd;
    int rd_bits[8];          /* uniform-quantizer B values for inn/csinet points */
    int n_rd_bits;
} eval_cli;

/* One row of the bit-link table. */
typedef struct link_row {
    char name[256];
    char kind[INVCSI_KIND_MAX];
    int m, dim, bits;
    long payload;
    long samples;
    double snr_db;
    double nmse_db, nmse_zs_db, rho, rho_zs; /* z per --z, and the other z choice */
    int has_z;               /* the model has an auxiliary variable (not CsiNet) */
    double ber, ber_theory;
    long bit_errors, bits_sent;
} link_row;

/* One row of the result table. */
typedef struct eval_row {
    char name[256];
    char kind[INVCSI_KIND_MAX];
    int m, dim;
    long params;
    long samples;
    double nmse_db, rho;
    /* STQENet (coded reports): mean bits per report */
    int coded;               /* 1 for an STQENet row */
    int bits;                /* its B */
    double lambda;
    double est_bits;         /* the model's estimate (learned pmf) */
    double coded_bits;       /* 8 x payload bytes (rANS stream, flush included) */
    double pdu_bits;         /* 8 x PDU bytes (+ length prefix and CRC-32) */
    double end_share;        /* share of symbols at 0 or 2^B - 1 (compander saturation) */
} eval_row;

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: %s --data FILE.mat --weights W.safetensors [--weights W2 ...] [options]\n"
        "\n"
        "Evaluates trained models on a channel data set: reproduces the train/test split\n"
        "from the config stored in each weights file (split seed, training fraction, the\n"
        "--max-train limit), preprocesses with the stored normalisation, encodes and\n"
        "decodes in batches, undoes the scale, inverse-DFTs to H^ and compares with the\n"
        "original frequency-domain H: NMSE = mean ||H - H^||^2 / ||H||^2 in dB, and the\n"
        "generalised cosine similarity rho = mean_k |h_k^H h^_k| / (||h_k|| ||h^_k||).\n"
        "\n"
        "Options (default in brackets):\n"
        "  --data FILE        channel set (.mat), required; normally the training data\n"
        "                     (a warning says when it is not: the split is then not held out)\n"
        "  --weights W        weights file from invcsi-train, required; repeat for a table\n"
        "                     of several models (up to %d)\n"
        "  --split S          test | train | all: which reports to evaluate [test]\n"
        "  --csv FILE         also write the table as CSV\n"
        "  --pca              also evaluate the linear PCA (KLT) code at each model's M:\n"
        "                     the top-M principal axes (centred) of the model's training\n"
        "                     reports; the floor every learned codec must beat\n"
        "  --batch B          reports per encode/decode call [256]\n"
        "\n"
        "Through real bits (DESIGN.md section 4; D-BCD is never used here):\n"
        "  --snr-db LIST      Eb/N0 values in dB, comma separated (e.g. -5,0,5,10,20); 'inf'\n"
        "                     = an error-free link (quantization only). Each report's\n"
        "                     latent is quantized (InvCSINet: its learned DAQ, B and\n"
        "                     mapping; inn, csinet: a per-dimension uniform --bits\n"
        "                     quantizer whose range is fitted on the model's training\n"
        "                     reports), sent as M*B bits over BPSK with complex AWGN,\n"
        "                     detected, dequantized and decoded (InvCSINet: IC, then f^-1)\n"
        "  --ideal            add the error-free row (same as 'inf' in --snr-db)\n"
        "  --bits B           uniform quantizer bits for inn/csinet models [4, or the B of\n"
        "                     the first InvCSINet given]\n"
        "  --bit-map P        natural | gray labels of the uniform quantizer [natural]\n"
        "  --z Z              mean | sample: the decoder's auxiliary variable z (prior mean\n"
        "                     or a seeded sample) for the NMSE column; the other choice is\n"
        "                     reported beside it [mean]\n"
        "  --detect D         hard (ML sign decisions) | mmse (expected level from the\n"
        "                     LLRs) [hard]\n"
        "  --seed S           seed of the channel noise and the z samples [1]\n"
        "  --plot FILE.png    draw NMSE vs Eb/N0 (and BER) with /usr/bin/python3 and\n"
        "                     matplotlib (apps/linkeval_plot.py)\n"
        "  --threads T        OpenMP and BLAS threads; 0 = OpenMP default [0]\n"
        "  --device D         cpu | cuda | auto: where the models compute. This version\n"
        "                     runs them on the CPU only: cuda is an error naming why (no\n"
        "                     GPU or driver, a build without CUDA, or the device path not\n"
        "                     being built yet), auto takes the CPU and says so on stderr\n"
        "                     [cpu]\n"
        "\n"
        "STQENet weights (DESIGN.md section 5) are evaluated through their real coded\n"
        "reports: symbols -> rANS -> length + CRC-32 PDU -> decode; a second table gives the\n"
        "model's bits estimate, the coded bits per report (8 x bytes of the rANS stream,\n"
        "flush included) and the PDU bits (+48 bits of framing).\n"
        "  --rd               rate-distortion table (and CSV with --csv, plot with --plot):\n"
        "                     NMSE against bits per report for every --weights file:\n"
        "                     STQENet at its coded bits, InvCSINet at M x B (its DAQ, error-\n"
        "                     free link), inn/csinet with a per-dimension uniform quantizer\n"
        "                     at M x B for each B of --rd-bits\n"
        "  --rd-bits LIST     B values of the uniform quantizer for inn/csinet points\n"
        "                     [the --bits value]\n"
        "  --quiet            no progress on stderr\n"
        "  -h, --help         this text\n"
        "\n"
        "Output: a table on stdout (model, kind, CR/M, parameters, samples, NMSE dB, rho;\n"
        "through bits: per model and Eb/N0 the NMSE with z = mean and z = sample, rho,\n"
        "the measured BER and the theory Q(sqrt(2 Eb/N0)) beside it).\n"
        "Exit status: 0 ok, 1 a file is missing, damaged or does not fit the data,\n"
        "2 bad options.\n",
        PROG, MAX_WEIGHTS);
}

static int add_weights(eval_cli *o, const char *v)
{
    if (o->n_weights == MAX_WEIGHTS) {
        fprintf(stderr, "%s: at most %d --weights\n", PROG, MAX_WEIGHTS);
        return -1;
    }
    o->weights[o->n_weights++] = v;
    return 0;
}

static int parse_split(const char *v)
{
    if (!strcmp(v, "test") || !strcmp(v, "train") || !strcmp(v, "all"))
        return 0;
    fprintf(stderr, "%s: bad value '%s' for --split: expected test, train or all\n", PROG, v);
    return -1;
}

static int add_snr(eval_cli *o, double v)
{
    for (int i = 0; i < o->n_snr; i++)
        if (o->snr_db[i] == v)
            return 0;
    if (o->n_snr == MAX_SNR) {
        fprintf(stderr, "%s: at most %d Eb/N0 values\n", PROG, MAX_SNR);
        return -1;
    }
    o->snr_db[o->n_snr++] = v;
    return 0;
}

static int parse_snr_list(eval_cli *o, const char *v)
{
    char buf[512];
    if (strlen(v) >= sizeof buf) {
        fprintf(stderr, "%s: --snr-db list too long\n", PROG);
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", v);
    char *save = NULL;
    int any = 0;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        double d;
        if (!strcmp(t, "inf") || !strcmp(t, "+inf") || !strcmp(t, "ideal")) {
            d = INFINITY;
        } else if (cli_parse_double(PROG, "--snr-db", t, -50, 100, &d)) {
            return -1;
        }
        if (add_snr(o, d))
            return -1;
        any = 1;
    }
    if (!any) {
        fprintf(stderr, "%s: --snr-db needs at least one value\n", PROG);
        return -1;
    }
    return 0;
}

static int parse_word(const char *opt, const char *v, const char *a, const char *b, int *out)
{
    if (!strcmp(v, a))
        *out = 0;
    else if (!strcmp(v, b))
        *out = 1;
    else {
        fprintf(stderr, "%s: bad value '%s' for %s: expected %s or %s\n", PROG, v, opt, a, b);
        return -1;
    }
    return 0;
}

static int parse_rd_bits(eval_cli *o, const char *v)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    o->n_rd_bits = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (o->n_rd_bits >= 8) {
            fprintf(stderr, "%s: --rd-bits: at most 8 values\n", PROG);
            return -1;
        }
        if (cli_parse_int(PROG, "--rd-bits", t, 1, 8, &o->rd_bits[o->n_rd_bits]))
            return -1;
        o->n_rd_bits++;
    }
    if (!o->n_rd_bits) {
        fprintf(stderr, "%s: --rd-bits needs at least one value\n", PROG);
        return -1;
    }
    return 0;
}

static int parse_options(int argc, char **argv, eval_cli *o)
{
    memset(o, 0, sizeof *o);
    o->split = "test";
    o->batch = 256;
    o->bits = 4;
    o->seed = 1;
    o->device = "cpu";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int m = 0, bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--rd")) {
            o->rd = 1;
        } else if (!strcmp(a, "--pca")) {
            o->pca = 1;
        } else if (!strcmp(a, "--ideal")) {
            if (add_snr(o, INFINITY))
                return -1;
        }
#define OPT(NAME, PARSE)                                          \
        else if ((v = cli_opt_value(PROG, argc, argv, &i, NAME, &m)) || m) { \
            if (!v) return -1;                                    \
            bad = (PARSE) != 0;                                   \
        }
        OPT("--data", (o->data = v, 0))
        OPT("--weights", add_weights(o, v))
        OPT("--split", (o->split = v, parse_split(v)))
        OPT("--csv", (o->csv = v, 0))
        OPT("--batch", cli_parse_int(PROG, "--batch", v, 1, 1 << 20, &o->batch))
        OPT("--threads", cli_parse_int(PROG, "--threads", v, 0, 4096, &o->threads))
        OPT("--snr-db", parse_snr_list(o, v))
        OPT("--bits", (o->bits_given = 1, cli_parse_int(PROG, "--bits", v, 1, 8, &o->bits)))
        OPT("--bit-map", parse_word("--bit-map", v, "natural", "gray", &o->mapping))
        OPT("--z", parse_word("--z", v, "mean", "sample", &o->z_mode))
        OPT("--detect", parse_word("--detect", v, "hard", "mmse", &o->detect))
        OPT("--seed", cli_parse_u64(PROG, "--seed", v, &o->seed))
        OPT("--plot", (o->plot = v, 0))
        OPT("--device", (o->device = v, cli_parse_device(PROG, v)))
        OPT("--rd-bits", parse_rd_bits(o, v))
#undef OPT
        else if (a[0] == '-') {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", PROG, a);
            return -1;
        } else {
            fprintf(stderr, "%s: unexpected argument '%s' (weights go after --weights)\n", PROG,
                    a);
            return -1;
        }
        if (bad)
            return -1;
    }
    if (!o->data) {
        fprintf(stderr, "%s: no data: give --data FILE.mat (see --help)\n", PROG);
        return -1;
    }
    if (!o->n_weights) {
        fprintf(stderr, "%s: no model: give --weights W.safetensors (see --help)\n", PROG);
        return -1;
    }
    if (o->rd && o->n_snr) {
        fprintf(stderr, "%s: --rd is the error-free rate-distortion table: no --snr-db\n", PROG);
        return -1;
    }
    if (o->rd && o->pca) {
        fprintf(stderr, "%s: --rd and --pca: give one\n", PROG);
        return -1;
    }
    if (o->n_rd_bits && !o->rd) {
        fprintf(stderr, "%s: --rd-bits applies to --rd only\n", PROG);
        return -1;
    }
    if (o->plot && !o->n_snr && !o->rd) {
        fprintf(stderr, "%s: --plot draws NMSE against Eb/N0 (give --snr-db) or against bits "
                "per report (give --rd)\n", PROG);
        return -1;
    }
    if (o->pca && o->n_snr) {
        fprintf(stderr, "%s: --pca applies to the ideal link table only (without --snr-db)\n",
                PROG);
        return -1;
    }
    return 0;
}

/* Indices of the reports to evaluate, as the trainer split them. */
static int select_reports(const invcsi_channels *c, const invcsi_model_config *cfg,
                          long max_train, const char *split, int **idx, long *count)
{
    int *train = malloc(sizeof(int) * (size_t)c->n), *test = malloc(sizeof(int) * (size_t)c->n);
    if (!train || !test) {
        free(train);
        free(test);
        return -1;
    }
    int n_train = 0, n_test = 0;
    invcsi_split(c->n, cfg->train_frac, (unsigned long long)cfg->split_seed, train, &n_train,
                 test, &n_test);
    if (max_train > 0 && n_train > max_train)
        n_train = (int)max_train;
    if (!strcmp(split, "test")) {
        free(train);
        *idx = test;
        *count = n_test;
    } else if (!strcmp(split, "train")) {
        free(test);
        *idx = train;
        *count = n_train;
    } else {
        for (int i = 0; i < c->n; i++)
            train[i] = i;
        free(test);
        *idx = train;
        *count = c->n;
    }
    return 0;
}

/* A codec under evaluation: reconstructs n preprocessed reports x into xh. */
typedef int (*codec_fn)(void *ctx, const float *x, int n, float *xh, invcsi_error *err);

typedef struct model_codec {
    invcsi_model *m;
    float *y;
} model_codec;

static int model_roundtrip(void *ctx, const float *x, int n, float *xh, invcsi_error *err)
{
    model_codec *mc = ctx;
    int rc = mc->m->ops->encode(mc->m, x, n, mc->y, err);
    return rc == INVCSI_OK ? mc->m->ops->decode(mc->m, mc->y, n, xh, err) : rc;
}

/* STQENet through its real reports: symbols, rANS + framing, checks, decode. */
typedef struct stqe_codec {
    invcsi_model *m;
    uint16_t *sym, *sym_rx;
    uint8_t *pdu;
    size_t cap;
    double est_bits, coded_bits, pdu_bits;
    long reports;
    long end_symbols; /* symbols at 0 or 2^B - 1: where tanh saturates */
} stqe_codec;

static int stqe_roundtrip(void *ctx, const float *x, int n, float *xh, invcsi_error *err)
{
    stqe_codec *sc = ctx;
    const int M = invcsi_stqenet_latent(sc->m);
    const invcsi_cdf_table *tables = invcsi_stqenet_tables(sc->m);
    if (!tables)
        return invcsi_error_set(err, INVCSI_EFORMAT, "the STQENet coder tables are not valid");
    int rc = invcsi_stqenet_symbols(sc->m, x, n, sc->sym, err);
    for (int i = 0; rc == INVCSI_OK && i < n; i++) {
        const uint16_t *s = sc->sym + (long)i * M;
        const int top = (1 << invcsi_stqenet_bits(sc->m)) - 1;
        for (int j = 0; j < M; j++)
            sc->end_symbols += s[j] == 0 || s[j] == top;
        size_t len = 0;
        rc = invcsi_report_pack(s, M, tables, sc->pdu, sc->cap, &len, err);
        if (rc == INVCSI_OK)
            rc = invcsi_report_unpack(sc->pdu, len, M, tables, sc->sym_rx + (long)i * M, NULL,
                                      err);
        if (rc == INVCSI_OK && memcmp(s, sc->sym_rx + (long)i * M, sizeof(uint16_t) * M) != 0)
            rc = invcsi_error_set(err, INVCSI_EFORMAT,
                                  "report decoded into other symbols than were coded");
        sc->est_bits += invcsi_stqenet_estimate_bits(sc->m, s);
        sc->coded_bits += 8.0 * (double)(len - INVCSI_REPORT_OVERHEAD);
        sc->pdu_bits += 8.0 * (double)len;
        sc->reports++;
    }
    if (rc == INVCSI_OK)
        rc = invcsi_stqenet_decode_symbols(sc->m, sc->sym_rx, n, xh, err);
    return rc;
}

typedef struct pca_codec {
    invcsi_pca pca;
    float *y;
} pca_codec;

static int pca_roundtrip(void *ctx, const float *x, int n, float *xh, invcsi_error *err)
{
    pca_codec *pc = ctx;
    invcsi_pca_project(&pc->pca, x, n, pc->y);
    invcsi_pca_reconstruct(&pc->pca, pc->y, n, xh);
    return INVCSI_OK;
}

/* Runs count reports (idx) through a codec in batches: preprocess with scale, codec,
 * undo the scale, inverse DFT, metrics against the original H. */
static int eval_codec(const eval_cli *o, const invcsi_channels *c, const int *idx, long count,
                      double scale, codec_fn codec, void *ctx, const char *label,
                      invcsi_metrics_acc *acc)
{
    invcsi_error err;
    invcsi_error_clear(&err);
    const long len = invcsi_channels_sample_len(c), dim = 2 * len;
    const int b = o->batch;
    invcsi_dft *dft = NULL;
    float *x = malloc(sizeof(float) * (size_t)(b * dim));
    float *xh = malloc(sizeof(float) * (size_t)(b * dim));
    float *hh = malloc(sizeof(float) * (size_t)(b * 2 * len));
    int rc = -1;
    if (!x || !xh || !hh) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto done;
    }
    if (invcsi_dft_create(&dft, c->nr, c->nt, c->nc, &err) != INVCSI_OK) {
        fprintf(stderr, "%s: %s\n", PROG, err.msg);
        goto done;
    }
    invcsi_metrics_reset(acc);
    struct cli_progress prog;
    cli_progress_start(&prog, label, "reports", o->quiet);
    for (long at = 0; at < count; at += b) {
        int n = (int)(count - at < b ? count - at : b);
        if (invcsi_preprocess(c, idx + at, n, scale, x, &err) != INVCSI_OK ||
            codec(ctx, x, n, xh, &err) != INVCSI_OK) {
            fprintf(stderr, "%s: %s: %s\n", PROG, label, err.msg);
            goto done;
        }
        invcsi_scale(xh, n, dim, 1.0 / scale);
        invcsi_dft_inverse(dft, xh, hh, n);
        for (int i = 0; i < n; i++)
            invcsi_metrics_add(acc, c->h + 2 * len * idx[at + i], hh + 2 * len * i,
                               c->nr * c->nt, c->nc);
        cli_progress_cb(&prog, at + n, count);
    }
    rc = 0;
done:
    invcsi_dft_destroy(dft);
    free(x);
    free(xh);
    free(hh);
    return rc;
}

/* The PCA code at the model's M, fitted on the model's training reports; one row. */
static int eval_pca(const eval_cli *o, const invcsi_channels *c, const invcsi_model_config *cfg,
                    long max_train, const int *idx, long count, eval_row *row)
{
    invcsi_error err;
    invcsi_dataset d;
    double scale = cfg->norm_scale;
    if (invcsi_dataset_prepare(&d, c, cfg->split_seed, cfg->train_frac, max_train, &scale,
                               &err) != INVCSI_OK) {
        fprintf(stderr, "%s: PCA: %s\n", PROG, err.msg);
        return -1;
    }
    pca_codec pc;
    memset(&pc, 0, sizeof pc);
    if (!o->quiet)
        fprintf(stderr, "%s: fitting PCA (M = %d) on %ld training reports\n", PROG, cfg->m,
                d.n_train);
    int rc = invcsi_pca_fit(&pc.pca, d.x_train, d.n_train, cfg->dim, cfg->m, 1, &err);
    invcsi_dataset_free(&d);
    if (rc != INVCSI_OK) {
        fprintf(stderr, "%s: PCA: %s\n", PROG, err.msg);
        return -1;
    }
    pc.y = malloc(sizeof(float) * (size_t)o->batch * cfg->m);
    invcsi_metrics_acc acc;
    rc = pc.y ? eval_codec(o, c, idx, count, cfg->norm_scale, pca_roundtrip, &pc, "pca", &acc)
              : -1;
    if (rc == 0) {
        snprintf(row->name, sizeof row->name, "pca (train split, %ld reports)",
                 max_train > 0 && max_train < (long)(cfg->train_frac * c->n + 0.5)
                     ? max_train
                     : (long)floor(cfg->train_frac * c->n + 0.5));
        snprintf(row->kind, sizeof row->kind, "pca");
        row->m = cfg->m;
        row->dim = cfg->dim;
        row->params = 0;
        row->samples = count;
        row->nmse_db = invcsi_metrics_nmse_db(&acc);
        row->rho = invcsi_metrics_rho(&acc);
    }
    free(pc.y);
    invcsi_pca_free(&pc.pca);
    return rc;
}

/* 1 if a PCA row for the same M, split and scale was already made (several models of
 * one training set share it), else records it and returns 0. */
static int pca_seen(const invcsi_model_config *cfg, long max_train)
{
    static struct { int m; uint64_t split_seed; double frac, scale; long max_train; } seen[MAX_WEIGHTS];
    static int n_seen;
    for (int i = 0; i < n_seen; i++)
        if (seen[i].m == cfg->m && seen[i].split_seed == cfg->split_seed &&
            seen[i].frac == cfg->train_frac && seen[i].scale == cfg->norm_scale &&
            seen[i].max_train == max_train)
            return 1;
    if (n_seen < MAX_WEIGHTS) {
        seen[n_seen].m = cfg->m;
        seen[n_seen].split_seed = cfg->split_seed;
        seen[n_seen].frac = cfg->train_frac;
        seen[n_seen].scale = cfg->norm_scale;
        seen[n_seen].max_train = max_train;
        n_seen++;
    }
    return 0;
}

/* The training facts a weights file records: its --max-train, and whether it was trained
 * on other data than the given set (by fingerprint). 0, or -1 with a message printed. */
static int read_training_meta(const char *path, uint64_t fingerprint, long *max_train,
                              int *other_data)
{
    invcsi_error err;
    invcsi_error_clear(&err);
    invcsi_safetensors f;
    if (invcsi_safetensors_load(path, &f, &err) != INVCSI_OK) {
        fprintf(stderr, "%s: %s\n", PROG, err.msg);
        return -1;
    }
    const char *want_fp = invcsi_safetensors_meta(&f, "data_fingerprint");
    const char *mt = invcsi_safetensors_meta(&f, "max_train");
    *max_train = mt ? atol(mt) : 0;
    char fp_text[24];
    snprintf(fp_text, sizeof fp_text, "%016" PRIx64, fingerprint);
    *other_data = want_fp && strcmp(want_fp, fp_text) != 0;
    invcsi_safetensors_free(&f);
    return 0;
}

/* Evaluates one weights file into rows (the model, and its PCA row with --pca); returns
 * the number of rows written, or -1 with a message printed. */
static int eval_weights(const eval_cli *o, const invcsi_channels *c, uint64_t fingerprint,
                        const char *path, eval_row *rows)
{
    invcsi_error err;
    invcsi_error_clear(&err);
    long max_train;
    int other_data;
    if (read_training_meta(path, fingerprint, &max_train, &other_data) != 0)
        return -1;

    invcsi_model *m = NULL;
    if (invcsi_model_load(&m, path, o->batch, &err) != INVCSI_OK) {
        fprintf(stderr, "%s: %s\n", PROG, err.msg);
        return -1;
    }
    const invcsi_model_config *cfg = &m->cfg;
    if (c->nr != cfg->nr || c->nt != cfg->nt || c->nc != cfg->nc) {
        fprintf(stderr,
                "%s: %s holds nr %d x nt %d x nc %d channels but %s was trained on nr %d x "
                "nt %d x nc %d\n",
                PROG, o->data, c->nr, c->nt, c->nc, path, cfg->nr, cfg->nt, cfg->nc);
        invcsi_model_destroy(m);
        return -1;
    }
    if (other_data && strcmp(o->split, "all") != 0)
        fprintf(stderr,
                "%s: warning: %s is not the data %s was trained on (fingerprint differs): "
                "its '%s' split is a split of other data\n",
                PROG, o->data, path, o->split);

    int *idx = NULL;
    long count = 0;
    int n_rows = -1;
    model_codec mc = {m, malloc(sizeof(float) * (size_t)o->batch * cfg->m)};
    const int stqe = invcsi_stqenet_latent(m) > 0;
    stqe_codec sc;
    memset(&sc, 0, sizeof sc);
    if (stqe) {
        sc.m = m;
        sc.sym = malloc(sizeof(uint16_t) * (size_t)o->batch * cfg->m);
        sc.sym_rx = malloc(sizeof(uint16_t) * (size_t)o->batch * cfg->m);
        sc.cap = invcsi_stqenet_max_pdu_bytes(m);
        sc.pdu = malloc(sc.cap);
    }
    invcsi_metrics_acc acc;
    if (!mc.y || (stqe && (!sc.sym || !sc.sym_rx || !sc.pdu)) ||
        select_reports(c, cfg, max_train, o->split, &idx, &count)) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto done;
    }
    if (count == 0) {
        fprintf(stderr, "%s: %s: the '%s' split of %s is empty\n", PROG, path, o->split, o->data);
        goto done;
    }
    if (eval_codec(o, c, idx, count, cfg->norm_scale, stqe ? stqe_roundtrip : model_roundtrip,
                   stqe ? (void *)&sc : (void *)&mc, path, &acc) != 0)
        goto done;
    eval_row *row = &rows[0];
    memset(row, 0, sizeof *row);
    if (stqe && sc.reports > 0) {
        row->coded = 1;
        row->bits = cfg->bits;
        row->lambda = cfg->mse_weight;
        row->est_bits = sc.est_bits / sc.reports;
        row->coded_bits = sc.coded_bits / sc.reports;
        row->pdu_bits = sc.pdu_bits / sc.reports;
        row->end_share = (double)sc.end_symbols / ((double)sc.reports * cfg->m);
    }
    snprintf(row->name, sizeof row->name, "%s", path);
    snprintf(row->kind, sizeof row->kind, "%s", cfg->kind);
    row->m = cfg->m;
    row->dim = cfg->dim;
    row->params = invcsi_model_param_count(m, 1);
    row->samples = count;
    row->nmse_db = invcsi_metrics_nmse_db(&acc);
    row->rho = invcsi_metrics_rho(&acc);
    n_rows = 1;
    if (o->pca && !pca_seen(cfg, max_train)) {
        if (eval_pca(o, c, cfg, max_train, idx, count, &rows[1]) != 0)
            n_rows = -1;
        else
            n_rows = 2;
    }
done:
    free(idx);
    free(mc.y);
    free(sc.sym);
    free(sc.sym_rx);
    free(sc.pdu);
    invcsi_model_destroy(m);
    return n_rows;
}

/* ---- through real bits -------------------------------------------------------------- */

static void csv_field(FILE *f, const char *s);

/* Runs count reports (idx) through the link at one Eb/N0: preprocess, link (both z
 * choices on the same received bits), undo the scale, inverse DFT, metrics. */
static int eval_link_snr(const eval_cli *o, const invcsi_channels *c, const int *idx,
                         long count, double scale, invcsi_link *l, double snr_db,
                         const char *label, invcsi_metrics_acc *acc, invcsi_metrics_acc *acc_zs,
                         long *bit_errors)
{
    invcsi_error err;
    invcsi_error_clear(&err);
    const long len = invcsi_channels_sample_len(c), dim = 2 * len;
    const int b = o->batch;
    invcsi_dft *dft = NULL;
    float *x = malloc(sizeof(float) * (size_t)(b * dim));
    float *xh = malloc(sizeof(float) * (size_t)(2 * b * dim));
    float *hh = malloc(sizeof(float) * (size_t)(b * 2 * len));
    int rc = -1;
    *bit_errors = 0;
    if (!x || !xh || !hh) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto done;
    }
    if (invcsi_dft_create(&dft, c->nr, c->nt, c->nc, &err) != INVCSI_OK) {
        fprintf(stderr, "%s: %s\n", PROG, err.msg);
        goto done;
    }
    float *xz = xh + (long)b * dim;
    invcsi_metrics_reset(acc);
    invcsi_metrics_reset(acc_zs);
    struct cli_progress prog;
    cli_progress_start(&prog, label, "reports", o->quiet);
    for (long at = 0; at < count; at += b) {
        int n = (int)(count - at < b ? count - at : b);
        long e = 0;
        if (invcsi_preprocess(c, idx + at, n, scale, x, &err) != INVCSI_OK ||
            invcsi_link_run(l, x, n, snr_db, (uint64_t)at, xh, xz, &e, &err) != INVCSI_OK) {
            fprintf(stderr, "%s: %s: %s\n", PROG, label, err.msg);
            goto done;
        }
        *bit_errors += e;
        for (int pass = 0; pass < 2; pass++) {
            float *out = pass ? xz : xh;
            invcsi_scale(out, n, dim, 1.0 / scale);
            invcsi_dft_inverse(dft, out, hh, n);
            for (int i = 0; i < n; i++)
                invcsi_metrics_add(pass ? acc_zs : acc, c->h + 2 * len * idx[at + i],
                                   hh + 2 * len * i, c->nr * c->nt, c->nc);
        }
        cli_progress_cb(&prog, at + n, count);
    }
    rc = 0;
done:
    invcsi_dft_destroy(dft);
    free(x);
    free(xh);
    free(hh);
    return rc;
}

/* Evaluates one weights file through the bit link at every --snr-db value: one row per
 * value, or -1 with a message printed. */
static int eval_link_weights(const eval_cli *o, const invcsi_channels *c, uint64_t fingerprint,
                             const char *path, link_row *rows)
{
    invcsi_error err;
    invcsi_error_clear(&err);
    long max_train;
    int other_data;
    if (read_training_meta(path, fingerprint, &max_train, &other_data) != 0)
        return -1;

    invcsi_model *m = NULL;
    invcsi_link *l = NULL;
    int *idx = NULL;
    long count = 0;
    int n_rows = -1;
    if (invcsi_model_load(&m, path, o->batch, &err) != INVCSI_OK) {
        fprintf(stderr, "%s: %s\n", PROG, err.msg);
        return -1;
    }
    const invcsi_model_config *cfg = &m->cfg;
    if (c->nr != cfg->nr || c->nt != cfg->nt || c->nc != cfg->nc) {
        fprintf(stderr,
                "%s: %s holds nr %d x nt %d x nc %d channels but %s was trained on nr %d x "
                "nt %d x nc %d\n",
                PROG, o->data, c->nr, c->nt, c->nc, path, cfg->nr, cfg->nt, cfg->nc);
        goto done;
    }
    if (other_data && strcmp(o->split, "all") != 0)
        fprintf(stderr,
                "%s: warning: %s is not the data %s was trained on (fingerprint differs): "
                "its '%s' split is a split of other data\n",
                PROG, o->data, path, o->split);
    if (invcsi_stqenet_latent(m) > 0) {
        fprintf(stderr, "%s: %s is an STQENet: its variable-length coded reports do not go "
                "through this fixed-payload bit link (evaluate it without --snr-db, or with "
                "--rd)\n", PROG, path);
        goto done;
    }
    const int icsi = invcsi_is_invcsinet(m);
    invcsi_link_config lc = invcsi_link_config_default();
    lc.bits = icsi ? 0 : o->bits;
    lc.mapping = o->mapping ? INVCSI_BITMAP_GRAY : INVCSI_BITMAP_NATURAL;
    lc.z_mode = o->z_mode ? INVCSI_Z_SAMPLE : INVCSI_Z_MEAN;
    lc.detect = o->detect ? INVCSI_DETECT_MMSE : INVCSI_DETECT_HARD;
    lc.seed = o->seed;
    if (icsi && o->bits_given && o->bits != invcsi_invcsinet_bits(m))
        fprintf(stderr, "%s: note: %s is an InvCSINet with its own %d-bit DAQ; --bits %d "
                "applies to the other models\n", PROG, path, invcsi_invcsinet_bits(m), o->bits);
    if (invcsi_link_create(&l, m, &lc, &err) != INVCSI_OK) {
        fprintf(stderr, "%s: %s: %s\n", PROG, path, err.msg);
        goto done;
    }
    if (invcsi_link_needs_fit(l)) {
        invcsi_dataset d;
        double scale = cfg->norm_scale;
        if (invcsi_dataset_prepare(&d, c, cfg->split_seed, cfg->train_frac, max_train, &scale,
                                   &err) != INVCSI_OK) {
            fprintf(stderr, "%s: %s: %s\n", PROG, path, err.msg);
            goto done;
        }
        if (!o->quiet)
            fprintf(stderr, "%s: %s: fitting the %d-bit uniform quantizer's range on %ld "
                    "training reports\n", PROG, path, invcsi_link_bits(l), d.n_train);
        int rc = invcsi_link_fit(l, d.x_train, d.n_train, &err);
        invcsi_dataset_free(&d);
        if (rc != INVCSI_OK) {
            fprintf(stderr, "%s: %s: %s\n", PROG, path, err.msg);
            goto done;
        }
    }
    if (select_reports(c, cfg, max_train, o->split, &idx, &count)) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto done;
    }
    if (count == 0) {
        fprintf(stderr, "%s: %s: the '%s' split of %s is empty\n", PROG, path, o->split, o->data);
        goto done;
    }
    for (int k = 0; k < o->n_snr; k++) {
        char label[300];
        snprintf(label, sizeof label, "%s @ %g dB", path, o->snr_db[k]);
        invcsi_metrics_acc acc, acc_zs;
        long errors = 0;
        if (eval_link_snr(o, c, idx, count, cfg->norm_scale, l, o->snr_db[k], label, &acc,
                          &acc_zs, &errors) != 0)
            goto done;
        link_row *r = &rows[k];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%s", path);
        snprintf(r->kind, sizeof r->kind, "%s", cfg->kind);
        r->m = cfg->m;
        r->dim = cfg->dim;
        r->bits = invcsi_link_bits(l);
        r->payload = invcsi_link_payload_bits(l);
        r->samples = count;
        r->snr_db = o->snr_db[k];
        r->nmse_db = invcsi_metrics_nmse_db(&acc);
        r->rho = invcsi_metrics_rho(&acc);
        r->nmse_zs_db = invcsi_metrics_nmse_db(&acc_zs);
        r->rho_zs = invcsi_metrics_rho(&acc_zs);
        r->has_z = strcmp(cfg->kind, "csinet") != 0;
        r->bit_errors = errors;
        r->bits_sent = count * r->payload;
        r->ber = isfinite(r->snr_db) ? (double)errors / (double)r->bits_sent : 0.0;
        r->ber_theory =
            isfinite(r->snr_db) ? invcsi_bpsk_ber(invcsi_db_to_linear(r->snr_db)) : 0.0;
    }
    n_rows = o->n_snr;
done:
    free(idx);
    invcsi_link_destroy(l);
    invcsi_model_destroy(m);
    return n_rows;
}

static void snr_text(char *buf, size_t n, double snr)
{
    if (isfinite(snr))
        snprintf(buf, n, "%g", snr);
    else
        snprintf(buf, n, "inf");
}

static void print_link_table(const link_row *rows, int n, const eval_cli *o)
{
    int w = 5;
    for (int i = 0; i < n; i++)
        if ((int)strlen(rows[i].name) > w)
            w = (int)strlen(rows[i].name);
    const char *zp = o->z_mode ? "sample" : "mean", *zo = o->z_mode ? "mean" : "sample";
    printf("%-*s  %-9s %5s %2s %6s %7s %8s %10s %10s %7s %10s %10s\n", w, "model", "kind", "M",
           "B", "bits", "samples", "Eb/N0", "NMSE dB", "NMSE(z)", "rho", "BER", "BER theory");
    for (int i = 0; i < n; i++) {
        const link_row *r = &rows[i];
        char snr[16], zs[24], ber[24], bth[24];
        snr_text(snr, sizeof snr, r->snr_db);
        if (r->has_z)
            snprintf(zs, sizeof zs, "%.3f", r->nmse_zs_db);
        else
            snprintf(zs, sizeof zs, "-");
        if (isfinite(r->snr_db)) {
            snprintf(ber, sizeof ber, "%.3e", r->ber);
            snprintf(bth, sizeof bth, "%.3e", r->ber_theory);
        } else {
            snprintf(ber, sizeof ber, "0");
            snprintf(bth, sizeof bth, "0");
        }
        printf("%-*s  %-9s %5d %2d %6ld %7ld %8s %10.3f %10s %7.4f %10s %10s\n", w, r->name,
               r->kind, r->m, r->bits, r->payload, r->samples, snr, r->nmse_db, zs, r->rho, ber,
               bth);
    }
    printf("(split: %s; through BPSK over complex AWGN, %s; NMSE dB with z = %s, NMSE(z) "
           "with z = %s; inf = no bit errors, quantization only)\n",
           o->split, o->detect ? "MMSE levels from the LLRs" : "hard detection", zp, zo);
}

static int write_link_csv(const char *path, const link_row *rows, int n, const eval_cli *o)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fprintf(f, "model,kind,cr,m,bits,payload_bits,split,samples,snr_db,nmse_db_zmean,"
               "nmse_db_zsample,rho_zmean,rho_zsample,ber,ber_theory,bit_errors,bits_sent\n");
    for (int i = 0; i < n; i++) {
        const link_row *r = &rows[i];
        char snr[16];
        snr_text(snr, sizeof snr, r->snr_db);
        /* columns by z choice, whatever --z put first in the table */
        const double zm = o->z_mode ? r->nmse_zs_db : r->nmse_db;
        const double zs = o->z_mode ? r->nmse_db : r->nmse_zs_db;
        const double rm = o->z_mode ? r->rho_zs : r->rho;
        const double rs = o->z_mode ? r->rho : r->rho_zs;
        csv_field(f, r->name);
        fprintf(f, ",%s,%.17g,%d,%d,%ld,%s,%ld,%s,%.6f,", r->kind, (double)r->m / r->dim, r->m,
                r->bits, r->payload, o->split, r->samples, snr, zm);
        if (r->has_z)
            fprintf(f, "%.6f,%.6f,%.6f,", zs, rm, rs);
        else
            fprintf(f, ",%.6f,,", rm);
        fprintf(f, "%.6e,%.6e,%ld,%ld\n", r->ber, r->ber_theory, r->bit_errors, r->bits_sent);
    }
    if (fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

/* apps/linkeval_plot.py: $INVCSI_PLOT_SCRIPT, beside the program, the installed share
 * directory, or the source tree's apps/ when the program runs from a build directory
 * inside the checkout (build-NAME/apps). */
static int find_script(const char *script, const char *env_name, char *out, size_t n)
{
    const char *env = getenv(env_name);
    if (env && access(env, R_OK) == 0) {
        snprintf(out, n, "%s", env);
        return 0;
    }
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return -1;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    static const char *const REL[] = {"/", "/../share/gr-invcsi/", "/../../apps/", "/../apps/"};
    for (size_t i = 0; i < sizeof REL / sizeof REL[0]; i++) {
        snprintf(out, n, "%s%s%s", exe, REL[i], script);
        if (access(out, R_OK) == 0)
            return 0;
    }
    return -1;
}

static int run_script(const char *script, const char *csv, const char *png, int quiet);

/* apps/<name> (linkeval_plot.py or rd_plot.py), found by find_script ($env first), run on
 * csv into png. */
static int run_plot(const char *name, const char *env, const char *csv, const char *png,
                    int quiet)
{
    char script[4200];
    if (find_script(name, env, script, sizeof script) != 0) {
        fprintf(stderr, "%s: --plot: cannot find %s (set %s)\n", PROG, name, env);
        return -1;
    }
    return run_script(script, csv, png, quiet);
}

/* The CSV a --plot reads: --csv when given, else a temporary file made in tmp[64] (the
 * caller unlinks it when tmp[0] is set). NULL (and *status = 1) when none can be made. */
static const char *plot_csv_path(const char *csv, int plot, char tmp[64], int *status)
{
    tmp[0] = '\0';
    if (csv || !plot)
        return csv;
    snprintf(tmp, 64, "/tmp/invcsi-eval-XXXXXX");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        perror("mkstemp");
        tmp[0] = '\0';
        *status = 1;
        return NULL;
    }
    close(fd);
    return tmp;
}

static int run_script(const char *script, const char *csv, const char *png, int quiet)
{
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        execl("/usr/bin/python3", "python3", script, "--csv", csv, "-o", png,
              quiet ? "--quiet" : (char *)NULL, (char *)NULL);
        perror("/usr/bin/python3");
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "%s: --plot: %s failed (exit %d)\n", PROG, script,
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return -1;
    }
    return 0;
}

static void cr_text(char *buf, size_t n, int m, int dim)
{
    if (dim % m == 0)
        snprintf(buf, n, "1/%d", dim / m);
    else
        snprintf(buf, n, "%.4g", (double)m / dim);
}

static void print_table(const eval_row *rows, int n, const char *split)
{
    int w = 5;
    for (int i = 0; i < n; i++)
        if ((int)strlen(rows[i].name) > w)
            w = (int)strlen(rows[i].name);
    printf("%-*s  %-7s %6s %5s %9s %8s %9s %7s\n", w, "model", "kind", "CR", "M", "params",
           "samples", "NMSE dB", "rho");
    for (int i = 0; i < n; i++) {
        char cr[16], params[24];
        cr_text(cr, sizeof cr, rows[i].m, rows[i].dim);
        if (rows[i].params > 0)
            snprintf(params, sizeof params, "%ld", rows[i].params);
        else
            snprintf(params, sizeof params, "-");
        printf("%-*s  %-7s %6s %5d %9s %8ld %9.3f %7.4f\n", w, rows[i].name, rows[i].kind, cr,
               rows[i].m, params, rows[i].samples, rows[i].nmse_db, rows[i].rho);
    }
    printf("(split: %s; NMSE and rho against the original frequency-domain H)\n", split);
    int any = 0;
    for (int i = 0; i < n; i++)
        any |= rows[i].coded;
    if (!any)
        return;
    printf("\ncoded reports (STQENet): bits per report, mean over the split\n");
    printf("%-*s  %5s %2s %8s %9s %10s %10s %9s %9s %7s %6s\n", w, "model", "M", "B", "lambda",
           "NMSE dB", "est bits", "coded bits", "PDU bits", "coded/est", "rho", "end %");
    for (int i = 0; i < n; i++) {
        const eval_row *r = &rows[i];
        if (!r->coded)
            continue;
        printf("%-*s  %5d %2d %8.4g %9.3f %10.1f %10.1f %9.1f %9.4f %7.4f %6.1f\n", w, r->name,
               r->m, r->bits, r->lambda, r->nmse_db, r->est_bits, r->coded_bits, r->pdu_bits,
               r->est_bits > 0 ? r->coded_bits / r->est_bits : NAN, r->rho, 100.0 * r->end_share);
    }
    printf("(coded bits = 8 x bytes of the rANS stream, flush included; PDU bits add the 16-bit "
           "length prefix and the CRC-32; every report decoded back to its own symbols;\n"
           " end %% = share of symbols at 0 or 2^B - 1, where the compander's tanh saturates)\n");
}

/* CSV field, quoted when it holds a comma, quote or newline. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_csv(const char *path, const eval_row *rows, int n, const char *split)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fprintf(f, "model,kind,cr,m,params,split,samples,nmse_db,rho\n");
    for (int i = 0; i < n; i++) {
        csv_field(f, rows[i].name);
        fprintf(f, ",%s,%.17g,%d,%ld,%s,%ld,%.6f,%.6f\n", rows[i].kind,
                (double)rows[i].m / rows[i].dim, rows[i].m, rows[i].params, split,
                rows[i].samples, rows[i].nmse_db, rows[i].rho);
    }
    if (fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

/* ---- rate-distortion (--rd) ---------------------------------------------------------- */

typedef struct rd_row {
    char name[256];
    char kind[INVCSI_KIND_MAX];
    char quantizer[24];
    int m, dim, bits;
    double lambda;           /* STQENet's rate weight, NAN otherwise */
    double rate_bits;        /* bits per report on air before framing */
    double est_bits;         /* STQENet: the model's estimate; NAN otherwise */
    double pdu_bits;         /* STQENet: with the framing; = rate_bits otherwise */
    double nmse_db, rho;
    long samples;
} rd_row;

static int rd_cmp(const void *a, const void *b)
{
    const rd_row *x = a, *y = b;
    int k = strcmp(x->kind, y->kind);
    if (k)
        return k;
    if (x->m != y->m)
        return x->m < y->m ? -1 : 1;
    return (x->rate_bits > y->rate_bits) - (x->rate_bits < y->rate_bits);
}

/* Every weights file: STQENet at its coded bits, the others through the error-free link
 * at M x B (InvCSINet its own B, inn/csinet each B of --rd-bits). */
static int run_rd(const eval_cli *o, const invcsi_channels *c, uint64_t fp)
{
    const int max_rows = o->n_weights * 9;
    rd_row *rows = calloc((size_t)max_rows, sizeof *rows);
    int n = 0, status = 0;
    if (!rows)
        return 1;
    for (int i = 0; i < o->n_weights; i++) {
        invcsi_safetensors f;
        invcsi_model_config cfg;
        invcsi_error err;
        if (invcsi_safetensors_load(o->weights[i], &f, &err) != INVCSI_OK) {
            fprintf(stderr, "%s: %s\n", PROG, err.msg);
            status = 1;
            continue;
        }
        int rc = invcsi_model_config_from_file(&f, &cfg, &err);
        invcsi_safetensors_free(&f);
        if (rc != INVCSI_OK) {
            fprintf(stderr, "%s: %s\n", PROG, err.msg);
            status = 1;
            continue;
        }
        if (!strcmp(cfg.kind, INVCSI_STQENET_KIND)) {
            eval_row er[2];
            eval_cli oo = *o;
            oo.pca = 0;
            if (eval_weights(&oo, c, fp, o->weights[i], er) < 1 || !er[0].coded) {
                status = 1;
                continue;
            }
            rd_row *r = &rows[n++];
            snprintf(r->name, sizeof r->name, "%s", er[0].name);
            snprintf(r->kind, sizeof r->kind, "%s", er[0].kind);
            snprintf(r->quantizer, sizeof r->quantizer, "mu-law+rANS");
            r->m = er[0].m, r->dim = er[0].dim, r->bits = er[0].bits;
            r->lambda = er[0].lambda;
            r->rate_bits = er[0].coded_bits;
            r->est_bits = er[0].est_bits;
            r->pdu_bits = er[0].pdu_bits;
            r->nmse_db = er[0].nmse_db, r->rho = er[0].rho, r->samples = er[0].samples;
            continue;
        }
        const int icsi = !strcmp(cfg.kind, "invcsinet");
        const int nb = icsi ? 1 : (o->n_rd_bits ? o->n_rd_bits : 1);
        for (int k = 0; k < nb; k++) {
            eval_cli oo = *o;
            oo.n_snr = 1;
            oo.snr_db[0] = INFINITY;
            oo.bits = icsi ? cfg.bits : (o->n_rd_bits ? o->rd_bits[k] : o->bits);
            oo.bits_given = !icsi;
            link_row lr;
            if (eval_link_weights(&oo, c, fp, o->weights[i], &lr) != 1) {
                status = 1;
                continue;
            }
            rd_row *r = &rows[n++];
            snprintf(r->name, sizeof r->name, "%s", lr.name);
            snprintf(r->kind, sizeof r->kind, "%s", lr.kind);
            snprintf(r->quantizer, sizeof r->quantizer, "%s", icsi ? "DAQ" : "uniform");
            r->m = lr.m, r->dim = lr.dim, r->bits = lr.bits;
            r->lambda = NAN;
            r->rate_bits = (double)lr.payload;
            r->est_bits = NAN;
            r->pdu_bits = (double)lr.payload;
            r->nmse_db = lr.nmse_db, r->rho = lr.rho, r->samples = lr.samples;
        }
    }
    qsort(rows, (size_t)n, sizeof *rows, rd_cmp);
    int w = 5;
    for (int i = 0; i < n; i++)
        if ((int)strlen(rows[i].name) > w)
            w = (int)strlen(rows[i].name);
    if (n) {
        printf("%-*s  %-9s %-12s %6s %5s %2s %8s %10s %10s %9s %9s %7s\n", w, "model", "kind",
               "quantizer", "CR", "M", "B", "lambda", "bits", "est bits", "PDU bits", "NMSE dB",
               "rho");
        for (int i = 0; i < n; i++) {
            const rd_row *r = &rows[i];
            char cr[16], lam[16], est[16];
            cr_text(cr, sizeof cr, r->m, r->dim);
            snprintf(lam, sizeof lam, isnan(r->lambda) ? "-" : "%.4g", r->lambda);
            snprintf(est, sizeof est, isnan(r->est_bits) ? "-" : "%.1f", r->est_bits);
            printf("%-*s  %-9s %-12s %6s %5d %2d %8s %10.1f %10s %9.1f %9.3f %7.4f\n", w,
                   r->name, r->kind, r->quantizer, cr, r->m, r->bits, lam, r->rate_bits, est,
                   r->pdu_bits, r->nmse_db, r->rho);
        }
        printf("(split: %s; error-free link; bits = coded bits per report for STQENet (8 x "
               "bytes of the rANS stream, flush included), M x B for the fixed-rate codes; "
               "PDU bits add STQENet's 48-bit framing)\n", o->split);
    }
    char tmp_csv[64];
    const char *csv = plot_csv_path(o->csv, o->plot && n, tmp_csv, &status);
    if (csv && n) {
        FILE *f = fopen(csv, "w");
        if (!f) {
            perror(csv);
            status = 1;
        } else {
            fprintf(f, "model,kind,quantizer,cr,m,bits,lambda,rate_bits,est_bits,pdu_bits,"
                       "split,samples,nmse_db,rho\n");
            for (int i = 0; i < n; i++) {
                const rd_row *r = &rows[i];
                csv_field(f, r->name);
                fprintf(f, ",%s,%s,%.17g,%d,%d,", r->kind, r->quantizer, (double)r->m / r->dim,
                        r->m, r->bits);
                if (!isnan(r->lambda))
                    fprintf(f, "%.6g", r->lambda);
                fprintf(f, ",%.3f,", r->rate_bits);
                if (!isnan(r->est_bits))
                    fprintf(f, "%.3f", r->est_bits);
                fprintf(f, ",%.3f,%s,%ld,%.6f,%.6f\n", r->pdu_bits, o->split, r->samples,
                        r->nmse_db, r->rho);
            }
            if (fclose(f) != 0) {
                perror(csv);
                status = 1;
            }
        }
    }
    if (o->plot && csv && n && status == 0 &&
        run_plot("rd_plot.py", "INVCSI_RD_PLOT_SCRIPT", csv, o->plot, o->quiet) != 0)
        status = 1;
    if (tmp_csv[0])
        unlink(tmp_csv);
    free(rows);
    return status;
}

int main(int argc, char **argv)
{
    eval_cli o;
    signal(SIGPIPE, SIG_DFL);
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    if (cli_select_device(PROG, o.device) != 0)
        return 1;
    invcsi_set_threads(o.threads);
    invcsi_error err;
    invcsi_channels c;
    if (invcsi_mat_read_channels(o.data, &c, &err) != INVCSI_OK) {
        fprintf(stderr, "%s: %s\n", PROG, err.msg);
        return 1;
    }
    uint64_t fp = invcsi_channels_fingerprint(&c);
    if (o.rd) {
        int status = run_rd(&o, &c, fp);
        invcsi_channels_free(&c);
        return status;
    }
    if (o.n_snr) {
        /* --bits default: the first InvCSINet's B, so all models send the same payload */
        if (!o.bits_given)
            for (int i = 0; i < o.n_weights; i++) {
                invcsi_safetensors f;
                invcsi_model_config cfg;
                int found = 0;
                if (invcsi_safetensors_load(o.weights[i], &f, NULL) == INVCSI_OK) {
                    if (invcsi_model_config_from_file(&f, &cfg, NULL) == INVCSI_OK &&
                        !strcmp(cfg.kind, "invcsinet")) {
                        o.bits = cfg.bits;
                        found = 1;
                    }
                    invcsi_safetensors_free(&f);
                }
                if (found)
                    break;
            }
        link_row *lrows = calloc((size_t)o.n_weights * o.n_snr, sizeof *lrows);
        int n_lrows = 0, status = 0;
        for (int i = 0; lrows && i < o.n_weights; i++) {
            int got = eval_link_weights(&o, &c, fp, o.weights[i], &lrows[n_lrows]);
            if (got < 0)
                status = 1;
            else
                n_lrows += got;
        }
        if (!lrows)
            status = 1;
        if (n_lrows)
            print_link_table(lrows, n_lrows, &o);
        char tmp_csv[64];
        const char *csv = plot_csv_path(o.csv, o.plot && n_lrows, tmp_csv, &status);
        if (csv && n_lrows && write_link_csv(csv, lrows, n_lrows, &o) != 0)
            status = 1;
        if (o.plot && csv && n_lrows && status == 0 &&
            run_plot("linkeval_plot.py", "INVCSI_PLOT_SCRIPT", csv, o.plot, o.quiet) != 0)
            status = 1;
        if (tmp_csv[0])
            unlink(tmp_csv);
        free(lrows);
        invcsi_channels_free(&c);
        return status;
    }
    eval_row rows[2 * MAX_WEIGHTS];
    int n_rows = 0, status = 0;
    for (int i = 0; i < o.n_weights; i++) {
        int got = eval_weights(&o, &c, fp, o.weights[i], &rows[n_rows]);
        if (got < 0)
            status = 1;
        else
            n_rows += got;
    }
    if (n_rows)
        print_table(rows, n_rows, o.split);
    if (o.csv && n_rows && write_csv(o.csv, rows, n_rows, o.split) != 0)
        status = 1;
    invcsi_channels_free(&c);
    return status;
}

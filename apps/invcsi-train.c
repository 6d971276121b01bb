/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * invcsi-train: trains a CSI-feedback model (INN, CsiNet or InvCSINet,
 * include/invcsi/model.h) on a channel data set and writes its weights (safetensors, with the config, the data
 * normalisation and the command line in __metadata__).
 *
 * The loop itself is invcsi_train_run (lib/train.c), shared with the tests; this file
 * is options, data loading, progress lines, Ctrl-C and the output files.
 */
#include "cli.h"
#include "invcsi/backend.h"

#include "invcsi/bitlink.h"
#include "invcsi/channels.h"
#include "invcsi/inn.h"
#include "invcsi/invcsinet.h"
#include "invcsi/stqenet.h"
#include "invcsi/matfile.h"
#include "invcsi/model.h"
#include "invcsi/train.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *PROG = "invcsi-train";

#define DEFAULT_EPOCHS 50

/* Every option; given[] records which were on the command line (a resume refuses those
 * the checkpoint fixes). */
enum {
    O_MODEL, O_MODE, O_CR, O_BATCH, O_LR, O_LR_DECAY, O_LR_STEP, O_SEED, O_MSE_W, O_MMD_W,
    O_WIDTH, O_BLOCKS, O_FRONT, O_ZBWD, O_SPLIT_SEED, O_TRAIN_FRAC, O_MAX_TRAIN,
    /* InvCSINet */
    O_BITS, O_BITMAP, O_SNR, O_DELTA, O_TAU, O_BETA, O_LAMBDA, O_LAN_WIDTH, O_NO_DAQ,
    O_NO_DBCD, O_NO_IC, O_INIT, O_FREEZE, O_DBCD_GRAD, O_COUNT
};
static const char *const OPTION_NAME[O_COUNT] = {
    "--model", "--mode", "--cr", "--batch", "--lr", "--lr-decay", "--lr-step", "--seed",
    "--mse-weight", "--mmd-weight", "--width", "--blocks", "--front", "--z-bwd",
    "--split-seed", "--train-frac", "--max-train",
    "--bits", "--bit-map", "--snr-db", "--delta", "--tau", "--beta", "--lambda", "--lan-width",
    "--no-daq", "--no-dbcd", "--no-ic", "--init", "--freeze-inn", "--dbcd-grad"};

typedef struct train_cli {
    const char *data, *out, *resume;
    const char *device;
    const char *model, *mode, *front, *z_bwd;
    /* InvCSINet */
    const char *bit_map, *init, *dbcd_grad;
    int bits, lan_width, no_daq, no_dbcd, no_ic, freeze; /* freeze: -1 = default */
    double snr_lo, snr_hi, delta, tau, beta_start, beta_end, lambda;
    double cr;
    int epochs, batch, lr_step, width, blocks, threads, checkpoint_every, eval_every;
    double lr, lr_decay, mse_weight, mmd_weight, train_frac;
    uint64_t seed, split_seed;
    int max_train;
    int quiet;
    int epochs_given, eval_every_given, checkpoint_every_given;
    int given[O_COUNT];
} train_cli;

static void usage(FILE *f)
{
    fprintf(f,
        "Usage: %s --data FILE.mat [options] -o WEIGHTS.safetensors\n"
        "       %s --data FILE.mat --resume WEIGHTS.safetensors.ckpt -o WEIGHTS.safetensors\n"
        "\n"
        "Trains a CSI-feedback model on a channel data set (any file invcsi-gen writes or\n"
        "the loader reads: CDL, DeepMIMO, COST2100) and writes its weights. The data are\n"
        "split into training and held-out reports by --split-seed/--train-frac (recorded\n"
        "with the weights, so invcsi-eval reproduces the same split), transformed to the\n"
        "angular-delay domain and normalised to unit power per real value on the training\n"
        "reports (the scale is stored with the weights).\n"
        "\n"
        "Model (default in brackets):\n"
        "  --model K          inn | csinet | invcsinet | stqenet [inn]\n"
        "  --mode M           ideal (no quantization, perfect feedback link: inn, csinet) or\n"
        "                     bits (quantized latent over a noisy bit channel: invcsinet)\n"
        "                     [ideal; bits for invcsinet]\n"
        "  --cr R             compression ratio, 1/4 .. 1/64 or a number; latent size\n"
        "                     M = round(2*nr*nt*nc * R) [1/16]\n"
        "  --width W          INN subnet width (channels) [sized by CR to the paper's\n"
        "                     parameter budget: 24 at 1/16]\n"
        "  --blocks K         INN invertible blocks [3]\n"
        "  --front F          INN front end: patch | energy | klt [patch]\n"
        "  --z-bwd Z          INN L_bwd decodes with z = zero | sample [zero]; InvCSINet:\n"
        "                     mean (the learned prior mean mu) | sample (z^) [mean]\n"
        "  --mse-weight W     INN weight of L_bwd (reconstruction MSE) [1]\n"
        "  --mmd-weight W     INN weight of L_fwd (MMD); \"MMD only\" = --mse-weight 0 [1]\n"
        "                     (--width .. --mmd-weight apply to the INN only; CsiNet\n"
        "                     trains on the reconstruction MSE)\n"
        "  --seed S           weight initialisation, shuffling and training noise [1]\n"
        "\n"
        "InvCSINet (--model invcsinet, DESIGN.md section 4; the INN options above size its\n"
        "INN):\n"
        "  --bits B           bits per latent value, 1..8; payload M*B bits [4]\n"
        "  --bit-map P        index labels on air: natural | gray [natural]\n"
        "  --snr-db S|A,B     training Eb/N0 in dB of D-BCD (BPSK over AWGN), fixed S or\n"
        "                     drawn uniformly in [A, B] per batch [10]\n"
        "  --delta D          D-BCD soft-index sharpness; 0 = 0.1 x spacing^2 [0]\n"
        "  --tau T            D-BCD Gumbel-softmax temperature [1]\n"
        "  --dbcd-grad G      D-BCD backward to the sent value: straight (dy~ itself) |\n"
        "                     surrogate (the paper's, through the soft index) [straight]\n"
        "  --beta A,B         soft-DAQ slope in units of 1/spacing, geometric from A to B\n"
        "                     over the epochs [5,50]\n"
        "  --lambda L         weight of the reconstruction MSE against the MMD [0.1]\n"
        "  --lan-width W      IC latent-alignment CNN width [16]\n"
        "  --no-daq           ablation: uniform quantizer (not learned)\n"
        "  --no-dbcd          ablation: AWGN on the levels at the training SNR, not D-BCD\n"
        "  --no-ic            ablation: no LAN, z^ = N(0, I) (the INN's prior)\n"
        "  --init W           start the INN from trained weights W (an inn or invcsinet\n"
        "                     model: its INN sizes, normalisation and data split are used)\n"
        "  --freeze-inn[=0|1] keep the INN fixed (only the latent scale, DAQ and IC train)\n"
        "                     [1 with --init, else 0]\n"
        "\n"
        "STQENet (--model stqenet, DESIGN.md section 5: attention encoder, mu-law quantizer,\n"
        "learned entropy model, CR-block decoder; loss MSE + lambda R / 2048):\n"
        "  --bits B           compander bits: 2^B symbols per latent value [6]\n"
        "  --lambda L         rate weight; larger = fewer bits per report [0.01]\n"
        "  --init W           start from trained STQENet weights W (another lambda: a large\n"
        "                     lambda trained from scratch can remove the latent before the\n"
        "                     decoder uses it); CR, B, normalisation and split come from W\n"
        "\n"
        "Data:\n"
        "  --data FILE        channel set (.mat), required\n"
        "  --split-seed S     seed of the train/test split [1]\n"
        "  --train-frac F     fraction of reports used for training [0.7]\n"
        "  --max-train N      use only the first N training reports (quick runs) [all]\n"
        "\n"
        "Training:\n"
        "  --epochs E         epochs [%d]\n"
        "  --batch B          reports per step; each epoch drops its last partial batch\n"
        "                     (it is a fresh shuffle every epoch) [128]\n"
        "  --lr L             Adam learning rate [1e-3]\n"
        "  --lr-decay G       multiply the learning rate by G ... [0.9]\n"
        "  --lr-step N        ... every N epochs; 0 = constant [20]\n"
        "  --eval-every N     held-out NMSE every N epochs and after the last; 0 = never [1]\n"
        "  --threads T        OpenMP and BLAS threads; 0 = OpenMP default (OMP_NUM_THREADS\n"
        "                     or all cores). The same seed, data and T give the same\n"
        "                     weights bit for bit [0]\n"
        "  --checkpoint-every N  write OUTPUT.ckpt every N epochs; 0 = only on Ctrl-C [0]\n"
        "  --resume CKPT      continue a checkpoint exactly where it stopped (the result is\n"
        "                     bit-identical to a run that never stopped). Model, data and\n"
        "                     training options come from the checkpoint; only --epochs\n"
        "                     (to train longer), --eval-every, --checkpoint-every,\n"
        "                     --threads, --device and --quiet may be given again\n"
        "  --device D         cpu | cuda | auto: where the model computes. cuda: the INN\n"
        "                     (--model inn) trains device-resident (one CUDA graph per\n"
        "                     step); the other kinds run on the CPU only and cuda names\n"
        "                     why; without a GPU or driver, or in a build without CUDA,\n"
        "                     cuda is an error with the CUDA error string; auto takes\n"
        "                     cuda when it can and says which on stderr [cpu]\n"
        "  --quiet            no progress lines\n"
        "  -o, --output FILE  weights file (safetensors), required; written atomically\n"
        "                     (FILE.tmp, then rename)\n"
        "  -h, --help         this text\n"
        "\n"
        "Progress, one line per epoch on stderr: epoch, learning rate, the loss terms, train\n"
        "NMSE (dB, of the reconstructions the steps computed), test NMSE (dB, held-out\n"
        "reports), samples/s and ETA.\n"
        "Ctrl-C (SIGINT) or SIGTERM stops after the current batch, writes OUTPUT.ckpt with\n"
        "the exact state (weights, Adam moments, epoch, batch, step) and exits with 130;\n"
        "a second Ctrl-C ends at once without a checkpoint.\n"
        "Exit status: 0 done, 1 failure (data, files, training), 2 bad options,\n"
        "130 interrupted (checkpoint written).\n",
        PROG, PROG, DEFAULT_EPOCHS);
}

static int parse_choice(const char *opt, const char *v, const char *const *choices)
{
    for (int k = 0; choices[k]; k++)
        if (!strcmp(v, choices[k]))
            return 0;
    fprintf(stderr, "%s: bad value '%s' for %s: expected", PROG, v, opt);
    for (int k = 0; choices[k]; k++)
        fprintf(stderr, "%s %s", k ? " or" : "", choices[k]);
    fprintf(stderr, "\n");
    return -1;
}

/* "A" (both values A) or "A,B" with A <= B, each in [min, max]. */
static int parse_pair(const char *opt, const char *v, double min, double max, double *a,
                      double *b)
{
    const char *comma = strchr(v, ',');
    if (!comma) {
        if (cli_parse_double(PROG, opt, v, min, max, a))
            return -1;
        *b = *a;
        return 0;
    }
    char first[64];
    size_t n = (size_t)(comma - v);
    if (n >= sizeof first) {
        fprintf(stderr, "%s: bad value '%s' for %s\n", PROG, v, opt);
        return -1;
    }
    memcpy(first, v, n);
    first[n] = '\0';
    if (cli_parse_double(PROG, opt, first, min, max, a) ||
        cli_parse_double(PROG, opt, comma + 1, min, max, b))
        return -1;
    if (*a > *b) {
        fprintf(stderr, "%s: bad value '%s' for %s: the first value must not exceed the "
                "second\n", PROG, v, opt);
        return -1;
    }
    return 0;
}

/* 1 (after saying which) when one of the options opts[0..n) was given with --init, whose
 * weights fix `what`, the data normalisation and the split. */
static int refuse_with_init(const train_cli *o, const int *opts, size_t n, const char *what)
{
    for (size_t k = 0; k < n; k++)
        if (o->given[opts[k]]) {
            fprintf(stderr,
                    "%s: %s cannot be given with --init: %s, the data normalisation and the "
                    "split come from the --init weights\n",
                    PROG, OPTION_NAME[opts[k]], what);
            return 1;
        }
    return 0;
}

static int parse_options(int argc, char **argv, train_cli *o)
{
    static const char *const MODELS[] = {"inn", "csinet", "invcsinet", "stqenet", NULL};
    static const char *const MODES[] = {"ideal", "bits", NULL};
    static const char *const FRONTS[] = {"patch", "energy", "klt", NULL};
    static const char *const ZBWD[] = {"zero", "mean", "sample", NULL};
    static const char *const BITMAPS[] = {"natural", "gray", NULL};
    static const char *const DBCD_GRADS[] = {"straight", "surrogate", NULL};
    static const char *const DEVICES[] = {"cpu", "cuda", "auto", NULL};
    invcsi_train_options d = invcsi_train_options_default();
    memset(o, 0, sizeof *o);
    o->model = "inn";
    o->device = "cpu";
    o->mode = NULL;
    o->front = "patch";
    o->z_bwd = "zero";
    o->cr = 1.0 / 16;
    o->epochs = DEFAULT_EPOCHS;
    o->batch = d.batch;
    o->lr = d.lr;
    o->lr_decay = d.lr_decay;
    o->lr_step = d.lr_step;
    o->eval_every = d.eval_every;
    o->checkpoint_every = 0;
    o->seed = 1;
    o->split_seed = 1;
    o->train_frac = 0.7;
    o->mse_weight = 1.0;
    o->mmd_weight = 1.0;
    o->width = 0;
    o->blocks = 0;
    o->bits = INVCSI_INVCSINET_BITS_DEFAULT;
    o->bit_map = "natural";
    o->dbcd_grad = "straight";
    o->snr_lo = o->snr_hi = INVCSI_INVCSINET_SNR_DB_DEFAULT;
    o->delta = 0.0;
    o->tau = 1.0;
    o->beta_start = INVCSI_INVCSINET_BETA_START;
    o->beta_end = INVCSI_INVCSINET_BETA_END;
    o->lambda = INVCSI_INVCSINET_LAMBDA_DEFAULT;
    o->lan_width = 16;
    o->freeze = -1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int m = 0, bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--no-daq")) {
            o->no_daq = o->given[O_NO_DAQ] = 1;
        } else if (!strcmp(a, "--no-dbcd")) {
            o->no_dbcd = o->given[O_NO_DBCD] = 1;
        } else if (!strcmp(a, "--no-ic")) {
            o->no_ic = o->given[O_NO_IC] = 1;
        } else if (!strcmp(a, "--freeze-inn")) {
            o->freeze = o->given[O_FREEZE] = 1;
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
#define MOPT(ID, PARSE) OPT(OPTION_NAME[ID], (o->given[ID] = 1, (PARSE)))
        OPT("--output", (o->out = v, 0))
        OPT("--data", (o->data = v, 0))
        OPT("--resume", (o->resume = v, 0))
        OPT("--epochs", (o->epochs_given = 1,
                         cli_parse_int(PROG, "--epochs", v, 0, 1000000, &o->epochs)))
        OPT("--threads", cli_parse_int(PROG, "--threads", v, 0, 4096, &o->threads))
        OPT("--device", (o->device = v, parse_choice("--device", v, DEVICES)))
        OPT("--checkpoint-every",
            (o->checkpoint_every_given = 1,
             cli_parse_int(PROG, "--checkpoint-every", v, 0, 1000000, &o->checkpoint_every)))
        OPT("--eval-every", (o->eval_every_given = 1,
                             cli_parse_int(PROG, "--eval-every", v, 0, 1000000, &o->eval_every)))
        MOPT(O_MODEL, (o->model = v, parse_choice("--model", v, MODELS)))
        MOPT(O_MODE, (o->mode = v, parse_choice("--mode", v, MODES)))
        MOPT(O_CR, cli_parse_ratio(PROG, "--cr", v, &o->cr))
        MOPT(O_BATCH, cli_parse_int(PROG, "--batch", v, 2, 1 << 20, &o->batch))
        MOPT(O_LR, cli_parse_double(PROG, "--lr", v, 1e-12, 10, &o->lr))
        MOPT(O_LR_DECAY, cli_parse_double(PROG, "--lr-decay", v, 1e-6, 1, &o->lr_decay))
        MOPT(O_LR_STEP, cli_parse_int(PROG, "--lr-step", v, 0, 1000000, &o->lr_step))
        MOPT(O_SEED, cli_parse_u64(PROG, "--seed", v, &o->seed))
        MOPT(O_MSE_W, cli_parse_double(PROG, "--mse-weight", v, 0, 1e6, &o->mse_weight))
        MOPT(O_MMD_W, cli_parse_double(PROG, "--mmd-weight", v, 0, 1e6, &o->mmd_weight))
        MOPT(O_WIDTH, cli_parse_int(PROG, "--width", v, 1, 4096, &o->width))
        MOPT(O_BLOCKS, cli_parse_int(PROG, "--blocks", v, 1, 256, &o->blocks))
        MOPT(O_FRONT, (o->front = v, parse_choice("--front", v, FRONTS)))
        MOPT(O_ZBWD, (o->z_bwd = v, parse_choice("--z-bwd", v, ZBWD)))
        MOPT(O_SPLIT_SEED, cli_parse_u64(PROG, "--split-seed", v, &o->split_seed))
        MOPT(O_TRAIN_FRAC, cli_parse_double(PROG, "--train-frac", v, 1e-9, 1, &o->train_frac))
        MOPT(O_MAX_TRAIN, cli_parse_int(PROG, "--max-train", v, 1, 2147483647L, &o->max_train))
        MOPT(O_BITS, cli_parse_int(PROG, "--bits", v, 1, 8, &o->bits))
        MOPT(O_BITMAP, (o->bit_map = v, parse_choice("--bit-map", v, BITMAPS)))
        MOPT(O_SNR, parse_pair("--snr-db", v, -30, 60, &o->snr_lo, &o->snr_hi))
        MOPT(O_DELTA, cli_parse_double(PROG, "--delta", v, 0, 1e6, &o->delta))
        MOPT(O_TAU, cli_parse_double(PROG, "--tau", v, 1e-3, 10, &o->tau))
        MOPT(O_BETA, parse_pair("--beta", v, 1e-3, 1e6, &o->beta_start, &o->beta_end))
        MOPT(O_LAMBDA, cli_parse_double(PROG, "--lambda", v, 0, 1e6, &o->lambda))
        MOPT(O_LAN_WIDTH, cli_parse_int(PROG, "--lan-width", v, 1, 4096, &o->lan_width))
        MOPT(O_INIT, (o->init = v, 0))
        MOPT(O_FREEZE, cli_parse_int(PROG, "--freeze-inn", v, 0, 1, &o->freeze))
        MOPT(O_DBCD_GRAD, (o->dbcd_grad = v, parse_choice("--dbcd-grad", v, DBCD_GRADS)))
#undef MOPT
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
    if (!o->data || !*o->data) {
        fprintf(stderr, "%s: no data: give --data FILE.mat (see --help)\n", PROG);
        return -1;
    }
    if (!o->out || !*o->out) {
        fprintf(stderr, "%s: no output file: give -o WEIGHTS.safetensors (see --help)\n", PROG);
        return -1;
    }
    const int icsi = !strcmp(o->model, "invcsinet");
    if (!o->mode)
        o->mode = icsi ? "bits" : "ideal";
    if (icsi != !strcmp(o->mode, "bits")) {
        fprintf(stderr, "%s: --mode %s does not fit --model %s (inn and csinet train for the "
                "ideal link, invcsinet for bits)\n", PROG, o->mode, o->model);
        return -1;
    }
    const int stqe = !strcmp(o->model, "stqenet");
    if (!icsi) {
        for (int k = O_BITS; k < O_COUNT; k++)
            if (o->given[k] && !(stqe && (k == O_BITS || k == O_LAMBDA || k == O_INIT))) {
                fprintf(stderr, "%s: %s applies to --model invcsinet only%s\n", PROG,
                        OPTION_NAME[k],
                        k == O_BITS || k == O_LAMBDA || k == O_INIT ? " (and stqenet)" : "");
                return -1;
            }
        static const int FROM_W[] = {O_CR, O_BITS, O_SPLIT_SEED, O_TRAIN_FRAC};
        if (stqe && o->init &&
            refuse_with_init(o, FROM_W, sizeof FROM_W / sizeof FROM_W[0], "CR, B"))
            return -1;
    } else {
        if (o->given[O_MSE_W] && o->given[O_LAMBDA]) {
            fprintf(stderr, "%s: --lambda and --mse-weight are the same weight: give one\n",
                    PROG);
            return -1;
        }
        if (o->given[O_MSE_W])
            o->lambda = o->mse_weight;
        if (!strcmp(o->z_bwd, "zero"))
            o->z_bwd = "mean";
        static const int FROM_INIT[] = {O_CR, O_WIDTH, O_BLOCKS, O_FRONT, O_SPLIT_SEED,
                                        O_TRAIN_FRAC};
        if (o->init && refuse_with_init(o, FROM_INIT, sizeof FROM_INIT / sizeof FROM_INIT[0],
                                        "the INN sizes"))
            return -1;
        if (o->freeze < 0)
            o->freeze = o->init ? 1 : 0;
        if (o->freeze && !o->init)
            fprintf(stderr, "%s: warning: --freeze-inn without --init keeps the INN at its "
                    "identity initialisation\n", PROG);
    }
    if (strcmp(o->model, "inn") != 0 && !icsi) {
        static const int INN_ONLY[] = {O_WIDTH, O_BLOCKS, O_FRONT, O_ZBWD, O_MSE_W, O_MMD_W};
        for (size_t k = 0; k < sizeof INN_ONLY / sizeof INN_ONLY[0]; k++)
            if (o->given[INN_ONLY[k]]) {
                fprintf(stderr, "%s: %s applies to --model inn only\n", PROG,
                        OPTION_NAME[INN_ONLY[k]]);
                return -1;
            }
    }
    if (o->resume) {
        for (int k = 0; k < O_COUNT; k++)
            if (o->given[k]) {
                fprintf(stderr,
                        "%s: %s cannot be given with --resume: the checkpoint fixes it (only "
                        "--epochs, --eval-every, --checkpoint-every, --threads, --device, "
                        "--quiet, --data and -o may be given)\n",
                        PROG, OPTION_NAME[k]);
                return -1;
            }
    }
    return 0;
}

/* ---- signals ---- */

static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* one-shot: a second Ctrl-C gets the default action and ends the program at once */
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- progress ---- */

static void fmt_duration(char *buf, size_t n, double s)
{
    if (!(s >= 0) || !isfinite(s))
        snprintf(buf, n, "?");
    else if (s < 60)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

typedef struct progress_ctx {
    int quiet;
    const char *kind;
    double last_test_db;
    invcsi_model *m;
} progress_ctx;

static void on_epoch(void *ctx, const invcsi_epoch_report *r)
{
    progress_ctx *p = ctx;
    if (!isnan(r->test_nmse_db))
        p->last_test_db = r->test_nmse_db;
    if (p->quiet)
        return;
    char eta[32], test[32];
    fmt_duration(eta, sizeof eta, r->eta_s);
    if (isnan(r->test_nmse_db))
        snprintf(test, sizeof test, "-");
    else
        snprintf(test, sizeof test, "%.2f dB", r->test_nmse_db);
    if (!strcmp(p->kind, "invcsinet"))
        fprintf(stderr,
                "epoch %d/%d  lr %.3g  beta %.3g  loss %.5g (mmd %.5g, mse %.5g)  train NMSE "
                "%.2f dB (%s)  test NMSE %s (quantized, no bit errors)  %.0f samples/s  "
                "ETA %s%s\n",
                r->epoch, r->epochs, r->lr, invcsi_invcsinet_beta(p->m), r->loss_total,
                r->loss_mmd, r->loss_mse, r->train_nmse_db,
                p->m->cfg.no_dbcd ? "AWGN on levels" : "D-BCD", test, r->samples_per_s, eta,
                r->checkpointed ? "  [checkpoint]" : "");
    else if (!strcmp(p->kind, "stqenet"))
        fprintf(stderr,
                "epoch %d/%d  lr %.3g  loss %.5g (mse %.5g, rate %.1f bits/report)  train NMSE "
                "%.2f dB  test NMSE %s (symbols, error-free link)  %.0f samples/s  ETA %s%s\n",
                r->epoch, r->epochs, r->lr, r->loss_total, r->loss_mse, r->loss_mmd,
                r->train_nmse_db, test, r->samples_per_s, eta,
                r->checkpointed ? "  [checkpoint]" : "");
    else if (!strcmp(p->kind, "inn"))
        fprintf(stderr,
                "epoch %d/%d  lr %.3g  loss %.5g (mmd %.5g, mse %.5g)  train NMSE %.2f dB  "
                "test NMSE %s  %.0f samples/s  ETA %s%s\n",
                r->epoch, r->epochs, r->lr, r->loss_total, r->loss_mmd, r->loss_mse,
                r->train_nmse_db, test, r->samples_per_s, eta,
                r->checkpointed ? "  [checkpoint]" : "");
    else
        fprintf(stderr,
                "epoch %d/%d  lr %.3g  loss %.5g (mse)  train NMSE %.2f dB  test NMSE %s  "
                "%.0f samples/s  ETA %s%s\n",
                r->epoch, r->epochs, r->lr, r->loss_total, r->train_nmse_db, test,
                r->samples_per_s, eta, r->checkpointed ? "  [checkpoint]" : "");
    fflush(stderr);
}

/* Parameters of the model proper: the trainable ones, plus a frozen INN's (which are
 * parameters, unlike fixed front tables and permutations). */
static long model_params(const invcsi_model *m)
{
    long n = invcsi_model_param_count(m, 1);
    if (!strcmp(m->cfg.kind, "invcsinet") && m->cfg.freeze_inn)
        n += invcsi_inn_param_count(&m->cfg);
    return n;
}

/* ---- main ---- */

static int fail(int code, const invcsi_error *err)
{
    fprintf(stderr, "%s: %s\n", PROG, err->msg);
    return code;
}

/* The config of the --init weights at path, which must hold a model of kind `kind` (or,
 * with kind2 non-NULL, of kind2) for the channel sizes of c (data: its file name, for the
 * message). Also its recorded max_train (0 when none). Prints why and returns the exit
 * status (1, or 2 for a wrong kind) on failure, 0 on success. */
static int read_init_config(const char *path, const char *kind, const char *kind2,
                            const invcsi_channels *c, const char *data,
                            invcsi_model_config *ic, long *max_train)
{
    invcsi_safetensors wf;
    invcsi_error err;
    if (invcsi_safetensors_load(path, &wf, &err) != INVCSI_OK)
        return fail(1, &err);
    int rc = invcsi_model_config_from_file(&wf, ic, &err);
    const char *mt = invcsi_safetensors_meta(&wf, "max_train");
    *max_train = mt ? atol(mt) : 0;
    invcsi_safetensors_free(&wf);
    if (rc != INVCSI_OK)
        return fail(1, &err);
    if (strcmp(ic->kind, kind) != 0 && !(kind2 && !strcmp(ic->kind, kind2))) {
        fprintf(stderr, "%s: --init %s holds a model of kind %s; a%s %s%s%s one is needed\n", PROG,
                path, ic->kind, kind[0] == 'i' ? "n" : "", kind, kind2 ? " or " : "",
                kind2 ? kind2 : "");
        return 2;
    }
    if (c->nr != ic->nr || c->nt != ic->nt || c->nc != ic->nc) {
        fprintf(stderr, "%s: --init %s takes nr %d x nt %d x nc %d channels, %s holds nr "
                "%d x nt %d x nc %d\n", PROG, path, ic->nr, ic->nt, ic->nc, data, c->nr,
                c->nt, c->nc);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    train_cli o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    /* The backend for the model kind asked for (with --resume the kind comes from the
     * checkpoint: checked again once the model exists). No GPU: `cuda` fails here with the
     * CUDA error string. */
    const invcsi_backend *be = NULL;
    if (cli_select_device_caps(PROG, o.device,
                               invcsi_backend_caps_for_kind(o.resume ? "inn" : o.model),
                               &be) != 0)
        return 1;
    invcsi_set_threads(o.threads);

    invcsi_error err;
    invcsi_error_clear(&err);
    int status = 1;
    invcsi_channels c;
    memset(&c, 0, sizeof c);
    invcsi_model *m = NULL;
    invcsi_dataset d;
    memset(&d, 0, sizeof d);
    invcsi_safetensors ck;
    memset(&ck, 0, sizeof ck);
    char *command = cli_join_command(argc, argv);
    char *ckpt_path = malloc(strlen(o.out) + 6);
    sprintf(ckpt_path, "%s.ckpt", o.out);

    invcsi_train_options topt = invcsi_train_options_default();
    invcsi_train_state st;
    memset(&st, 0, sizeof st);
    long max_train = o.max_train, init_max_train = 0;
    const char *orig_command = command;

    /* 1. model and options: fresh, or from the checkpoint */
    if (o.resume) {
        if (invcsi_checkpoint_load(o.resume, 0, &m, &topt, &st, &ck, &err) != INVCSI_OK)
            goto out;
        const char *mt = invcsi_safetensors_meta(&ck, "max_train");
        max_train = mt ? atol(mt) : 0;
        const char *cmd = invcsi_safetensors_meta(&ck, "command");
        if (cmd)
            orig_command = cmd;
        if (o.epochs_given) {
            if (o.epochs < st.epoch) {
                fprintf(stderr, "%s: --epochs %d: the checkpoint has already done %d epochs\n",
                        PROG, o.epochs, st.epoch);
                status = 2;
                goto out;
            }
            topt.epochs = o.epochs;
        }
    } else {
        topt.epochs = o.epochs;
        topt.batch = o.batch;
        topt.lr = o.lr;
        topt.lr_decay = o.lr_decay;
        topt.lr_step = o.lr_step;
    }
    /* on resume these keep the checkpoint's values unless given again */
    if (!o.resume || o.eval_every_given)
        topt.eval_every = o.eval_every;
    if (!o.resume || o.checkpoint_every_given)
        topt.checkpoint_every = o.checkpoint_every;
    topt.checkpoint_path = ckpt_path;

    /* 2. data */
    if (!o.quiet)
        fprintf(stderr, "%s: loading %s\n", PROG, o.data);
    if (invcsi_mat_read_channels(o.data, &c, &err) != INVCSI_OK)
        goto out;
    uint64_t fp = invcsi_channels_fingerprint(&c);
    char fp_text[24], n_text[24], mt_text[24];
    snprintf(fp_text, sizeof fp_text, "%016" PRIx64, fp);
    snprintf(n_text, sizeof n_text, "%d", c.n);
    snprintf(mt_text, sizeof mt_text, "%ld", max_train);

    invcsi_model_config cfg;
    if (m) {
        cfg = m->cfg;
        if (c.nr != cfg.nr || c.nt != cfg.nt || c.nc != cfg.nc) {
            fprintf(stderr,
                    "%s: %s holds nr %d x nt %d x nc %d channels but the checkpoint's model "
                    "takes nr %d x nt %d x nc %d\n",
                    PROG, o.data, c.nr, c.nt, c.nc, cfg.nr, cfg.nt, cfg.nc);
            goto out;
        }
        const char *want = invcsi_safetensors_meta(&ck, "data_fingerprint");
        if (want && strcmp(want, fp_text) != 0) {
            fprintf(stderr,
                    "%s: %s is not the data the checkpoint was trained on (fingerprint %s, "
                    "expected %s)\n",
                    PROG, o.data, fp_text, want);
            goto out;
        }
    } else if (o.init && !strcmp(o.model, "stqenet")) {
        /* STQENet from trained STQENet weights (another lambda): its whole config */
        const int st = read_init_config(o.init, "stqenet", NULL, &c, o.data, &cfg,
                                        &init_max_train);
        if (st != 0) {
            status = st;
            goto out;
        }
        cfg.seed = o.seed;
        if (max_train <= 0 && init_max_train > 0)
            max_train = init_max_train; /* the same training reports as W */
        snprintf(mt_text, sizeof mt_text, "%ld", max_train);
    } else if (o.init) {
        /* InvCSINet from trained INN weights: their INN sizes, scale and split */
        invcsi_model_config ic;
        const int st = read_init_config(o.init, "inn", "invcsinet", &c, o.data, &ic,
                                        &init_max_train);
        if (st != 0) {
            status = st;
            goto out;
        }
        if (invcsi_model_config_default(&cfg, "invcsinet", c.nr, c.nt, c.nc,
                                        (double)ic.m / ic.dim, &err) != INVCSI_OK)
            goto out;
        cfg.m = ic.m;
        cfg.patch = ic.patch;
        cfg.blocks = ic.blocks;
        cfg.width = ic.width;
        cfg.clamp = ic.clamp;
        cfg.leaky_slope = ic.leaky_slope;
        cfg.permute = ic.permute;
        snprintf(cfg.front, sizeof cfg.front, "%s", ic.front);
        cfg.norm_scale = ic.norm_scale;
        cfg.split_seed = ic.split_seed;
        cfg.train_frac = ic.train_frac;
    } else {
        if (invcsi_model_config_default(&cfg, o.model, c.nr, c.nt, c.nc, o.cr, &err) !=
            INVCSI_OK) {
            status = 2;
            goto out;
        }
        cfg.seed = o.seed;
        if (o.width > 0)
            cfg.width = o.width;
        if (o.blocks > 0)
            cfg.blocks = o.blocks;
        snprintf(cfg.front, sizeof cfg.front, "%s", o.front);
        cfg.z_bwd_sample = !strcmp(o.z_bwd, "sample");
        cfg.mse_weight = (float)o.mse_weight;
        cfg.mmd_weight = (float)o.mmd_weight;
        cfg.split_seed = o.split_seed;
        cfg.train_frac = o.train_frac;
    }
    if (!m && !strcmp(cfg.kind, "stqenet")) {
        /* STQENet: B and the rate weight lambda (stored as mse_weight, stqenet.h) */
        if (o.given[O_BITS])
            cfg.bits = o.bits;
        cfg.mse_weight = o.given[O_LAMBDA] ? (float)o.lambda : INVCSI_STQENET_LAMBDA_DEFAULT;
    }
    if (!m && !strcmp(cfg.kind, "invcsinet")) {
        cfg.seed = o.seed;
        cfg.z_bwd_sample = !strcmp(o.z_bwd, "sample");
        cfg.mse_weight = (float)o.lambda;
        cfg.mmd_weight = (float)o.mmd_weight;
        cfg.bits = o.bits;
        snprintf(cfg.bit_map, sizeof cfg.bit_map, "%s", o.bit_map);
        cfg.snr_db_min = (float)o.snr_lo;
        cfg.snr_db_max = (float)o.snr_hi;
        cfg.delta = (float)o.delta;
        cfg.tau = (float)o.tau;
        snprintf(cfg.dbcd_grad, sizeof cfg.dbcd_grad, "%s", o.dbcd_grad);
        cfg.beta_start = (float)o.beta_start;
        cfg.beta_end = (float)o.beta_end;
        cfg.lan_width = o.lan_width;
        cfg.no_daq = o.no_daq;
        cfg.no_dbcd = o.no_dbcd;
        cfg.no_ic = o.no_ic;
        cfg.freeze_inn = o.freeze;
        if (o.init && max_train <= 0 && init_max_train > 0)
            max_train = init_max_train; /* the same training reports as the INN */
        snprintf(mt_text, sizeof mt_text, "%ld", max_train);
    }
    double scale = m ? cfg.norm_scale : (o.init ? cfg.norm_scale : 0.0);
    if (invcsi_dataset_prepare(&d, &c, cfg.split_seed, cfg.train_frac, max_train, &scale,
                               &err) != INVCSI_OK)
        goto out;

    if (!m) {
        cfg.norm_scale = scale;
        int rc = invcsi_model_create(&m, &cfg, topt.batch, &err);
        if (rc != INVCSI_OK) {
            status = rc == INVCSI_EINVAL ? 2 : 1;
            goto out;
        }
        if (o.init && !strcmp(cfg.kind, "stqenet")) {
            invcsi_safetensors wf;
            if (invcsi_safetensors_load(o.init, &wf, &err) != INVCSI_OK)
                goto out;
            const int rc = invcsi_params_load_from(&m->params, &wf, &err);
            invcsi_safetensors_free(&wf);
            if (rc != INVCSI_OK)
                goto out;
        } else if (o.init) {
            if (invcsi_invcsinet_load_inn(m, o.init, &err) != INVCSI_OK ||
                invcsi_invcsinet_fit_latent(m, d.x_train, d.n_train, &err) != INVCSI_OK)
                goto out;
        } else if (m->ops->fit_front &&
                   m->ops->fit_front(m, d.x_train, d.n_train, &err) != INVCSI_OK) {
            goto out;
        }
    }
    {
        /* the model computes on the selected backend from here on (an INN on CUDA: weights,
         * gradients and Adam state in one device allocation, activations in another) */
        const unsigned need = invcsi_backend_caps_for_kind(cfg.kind);
        if ((be->caps & need) != need && !strcmp(o.device, "auto")) {
            fprintf(stderr, "%s: device auto: using cpu (model kind %s does not run on %s)\n",
                    PROG, cfg.kind, be->name);
            be = invcsi_backend_cpu();
        }
        if (invcsi_model_use_backend(m, be, &err) != INVCSI_OK)
            goto out;
    }
    if (!o.quiet) {
        fprintf(stderr,
                "%s: %s, %d reports of nr %d x nt %d x nc %d: %ld train, %ld test; model %s, "
                "M = %d (CR 1/%g), %ld parameters; %d epochs of %ld batches of %d, %d "
                "threads\n",
                PROG, o.data, c.n, c.nr, c.nt, c.nc, d.n_train, d.n_test, cfg.kind, cfg.m,
                (double)cfg.dim / cfg.m, model_params(m), topt.epochs,
                d.n_train / topt.batch, topt.batch, invcsi_get_threads());
        if (o.resume)
            fprintf(stderr, "%s: resuming %s at epoch %d, batch %d (step %ld)\n", PROG, o.resume,
                    st.epoch + 1, st.batch, st.step);
    }
    /* the data are not needed any more: the preprocessed copies are */
    invcsi_channels_free(&c);

    /* 3. train */
    const char *mode_text = !strcmp(cfg.kind, "invcsinet") ? "bits" : "ideal";
    const char *init_text = o.resume ? invcsi_safetensors_meta(&ck, "init") : o.init;
    char threads_text[16];
    snprintf(threads_text, sizeof threads_text, "%d", invcsi_get_threads());
    if (o.resume) {
        const char *was = invcsi_safetensors_meta(&ck, "threads");
        if (was && strcmp(was, threads_text) != 0)
            fprintf(stderr,
                    "%s: warning: the checkpoint was trained on %s threads, this run uses %s: "
                    "the result will differ in the last bits from an uninterrupted run (give "
                    "--threads %s for bit-identical weights)\n",
                    PROG, was, threads_text, was);
    }
    invcsi_st_kv ck_meta[7] = {
        {"threads", threads_text},
        {"command", orig_command},
        {"mode", mode_text},
        {"data_fingerprint", fp_text},
        {"data_reports", n_text},
        {"max_train", mt_text},
    };
    int n_ck_meta = 6;
    if (init_text && *init_text)
        ck_meta[n_ck_meta++] = (invcsi_st_kv){"init", init_text};
    topt.meta = ck_meta;
    topt.n_meta = n_ck_meta;
    progress_ctx pc = {o.quiet, cfg.kind, NAN, m};
    install_signals();
    int rc = invcsi_train_run(m, &topt, &st, d.x_train, d.n_train, d.x_test, d.n_test, &g_stop,
                              on_epoch, &pc, &err);
    if (rc == INVCSI_EINTERRUPTED) {
        fprintf(stderr, "%s: interrupted: %s\n", PROG, err.msg);
        fprintf(stderr, "%s: resume with: %s --data %s --resume %s -o %s\n", PROG, PROG, o.data,
                ckpt_path, o.out);
        status = 130;
        goto out;
    }
    if (rc != INVCSI_OK)
        goto out;

    /* 4. weights */
    {
        char test_text[40] = "";
        if (!isnan(pc.last_test_db))
            snprintf(test_text, sizeof test_text, "%.4f", pc.last_test_db);
        char epochs_text[24];
        snprintf(epochs_text, sizeof epochs_text, "%d", st.epoch);
        invcsi_st_kv meta[12];
        int n = 0;
        meta[n++] = (invcsi_st_kv){"threads", threads_text};
        meta[n++] = (invcsi_st_kv){"command", orig_command};
        if (o.resume)
            meta[n++] = (invcsi_st_kv){"resume_command", command};
        meta[n++] = (invcsi_st_kv){"mode", mode_text};
        if (init_text && *init_text)
            meta[n++] = (invcsi_st_kv){"init", init_text};
        meta[n++] = (invcsi_st_kv){"data_fingerprint", fp_text};
        meta[n++] = (invcsi_st_kv){"data_reports", n_text};
        meta[n++] = (invcsi_st_kv){"max_train", mt_text};
        meta[n++] = (invcsi_st_kv){"epochs", epochs_text};
        if (test_text[0])
            meta[n++] = (invcsi_st_kv){"test_nmse_db", test_text};
        /* STQENet: the coder tables from the trained entropy model go into the file */
        if (!strcmp(cfg.kind, "stqenet") && invcsi_stqenet_prepare_coder(m, &err) != INVCSI_OK)
            goto out;
        if (invcsi_model_save(m, o.out, meta, n, &err) != INVCSI_OK)
            goto out;
        printf("%s: wrote %s: %s, M = %d (CR 1/%g), %ld parameters, %d epochs, %ld train "
               "reports%s%s%s\n",
               PROG, o.out, cfg.kind, cfg.m, (double)cfg.dim / cfg.m,
               model_params(m), st.epoch, d.n_train,
               test_text[0] ? ", test NMSE " : "", test_text, test_text[0] ? " dB" : "");
        status = 0;
    }

out:
    if (status != 0 && status != 130 && err.msg[0])
        fail(status, &err);
    invcsi_dataset_free(&d);
    invcsi_channels_free(&c);
    invcsi_model_destroy(m);
    invcsi_safetensors_free(&ck);
    free(command);
    free(ckpt_path);
    return status;
}

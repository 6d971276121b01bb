/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * invcsi-train: trains a CSI-feedback model (INN or CsiNet, include/invcsi/model.h) on a
 * channel data set and writes its weights (safetensors, with the config, the data
 * normalisation and the command line in __metadata__).
 *
 * The loop itself is invcsi_train_run (lib/train.c), shared with the tests; this file
 * is options, data loading, progress lines, Ctrl-C and the output files.
 */
#include "cli.h"

#include "invcsi/channels.h"
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
    O_WIDTH, O_BLOCKS, O_FRONT, O_ZBWD, O_SPLIT_SEED, O_TRAIN_FRAC, O_MAX_TRAIN, O_COUNT
};
static const char *const OPTION_NAME[O_COUNT] = {
    "--model", "--mode", "--cr", "--batch", "--lr", "--lr-decay", "--lr-step", "--seed",
    "--mse-weight", "--mmd-weight", "--width", "--blocks", "--front", "--z-bwd",
    "--split-seed", "--train-frac", "--max-train"};

typedef struct train_cli {
    const char *data, *out, *resume;
    const char *model, *mode, *front, *z_bwd;
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
        "  --model K          inn | csinet [inn]\n"
        "  --mode M           ideal (no quantization, perfect feedback link) [ideal]\n"
        "  --cr R             compression ratio, 1/4 .. 1/64 or a number; latent size\n"
        "                     M = round(2*nr*nt*nc * R) [1/16]\n"
        "  --width W          INN subnet width (channels) [sized by CR to the paper's\n"
        "                     parameter budget: 24 at 1/16]\n"
        "  --blocks K         INN invertible blocks [3]\n"
        "  --front F          INN front end: patch | energy | klt [patch]\n"
        "  --z-bwd Z          INN L_bwd decodes with z = zero | sample [zero]\n"
        "  --mse-weight W     INN weight of L_bwd (reconstruction MSE) [1]\n"
        "  --mmd-weight W     INN weight of L_fwd (MMD); \"MMD only\" = --mse-weight 0 [1]\n"
        "                     (--width .. --mmd-weight apply to the INN only; CsiNet\n"
        "                     trains on the reconstruction MSE)\n"
        "  --seed S           weight initialisation, shuffling and training noise [1]\n"
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
        "                     --threads and --quiet may be given again\n"
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

/* Shell-quoted argv joined by spaces, for the "command" metadata. */
static char *join_command(int argc, char **argv)
{
    size_t cap = 1;
    for (int i = 0; i < argc; i++)
        cap += 4 * strlen(argv[i]) + 3;
    char *s = malloc(cap), *o = s;
    if (!s)
        return NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int plain = *a != '\0';
        for (const char *p = a; *p; p++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%",
                        *p))
                plain = 0;
        if (i)
            *o++ = ' ';
        if (plain) {
            o += sprintf(o, "%s", a);
            continue;
        }
        *o++ = '\'';
        for (const char *p = a; *p; p++) {
            if (*p == '\'') {
                memcpy(o, "'\\''", 4);
                o += 4;
            } else {
                *o++ = *p;
            }
        }
        *o++ = '\'';
    }
    *o = '\0';
    return s;
}

/* --opt VALUE or --opt=VALUE; returns the value, or NULL (with *matched set when the
 * option matched but its value is missing: message printed). */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *matched)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    *matched = 0;
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=') {
        *matched = 1;
        return a + n + 1;
    }
    if (a[n] != '\0')
        return NULL;
    *matched = 1;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value (see --help)\n", PROG, name);
        return NULL;
    }
    return argv[++*i];
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

static int parse_options(int argc, char **argv, train_cli *o)
{
    static const char *const MODELS[] = {"inn", "csinet", NULL};
    static const char *const MODES[] = {"ideal", NULL};
    static const char *const FRONTS[] = {"patch", "energy", "klt", NULL};
    static const char *const ZBWD[] = {"zero", "sample", NULL};
    invcsi_train_options d = invcsi_train_options_default();
    memset(o, 0, sizeof *o);
    o->model = "inn";
    o->mode = "ideal";
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

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int m = 0, bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "-o")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: -o needs a file name\n", PROG);
                return -1;
            }
            o->out = argv[++i];
        }
#define OPT(NAME, PARSE)                                          \
        else if ((v = opt_value(argc, argv, &i, NAME, &m)) || m) { \
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
    if (strcmp(o->model, "inn") != 0) {
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
                        "--epochs, --eval-every, --checkpoint-every, --threads, --quiet, "
                        "--data and -o may be given)\n",
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
    if (!strcmp(p->kind, "inn"))
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

/* ---- main ---- */

static int fail(int code, const invcsi_error *err)
{
    fprintf(stderr, "%s: %s\n", PROG, err->msg);
    return code;
}

int main(int argc, char **argv)
{
    train_cli o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
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
    char *command = join_command(argc, argv);
    char *ckpt_path = malloc(strlen(o.out) + 6);
    sprintf(ckpt_path, "%s.ckpt", o.out);

    invcsi_train_options topt = invcsi_train_options_default();
    invcsi_train_state st;
    memset(&st, 0, sizeof st);
    long max_train = o.max_train;
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
    double scale = m ? cfg.norm_scale : 0.0;
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
        if (m->ops->fit_front && m->ops->fit_front(m, d.x_train, d.n_train, &err) != INVCSI_OK)
            goto out;
    }
    if (!o.quiet) {
        fprintf(stderr,
                "%s: %s, %d reports of nr %d x nt %d x nc %d: %ld train, %ld test; model %s, "
                "M = %d (CR 1/%g), %ld parameters; %d epochs of %ld batches of %d, %d "
                "threads\n",
                PROG, o.data, c.n, c.nr, c.nt, c.nc, d.n_train, d.n_test, cfg.kind, cfg.m,
                (double)cfg.dim / cfg.m, invcsi_model_param_count(m, 1), topt.epochs,
                d.n_train / topt.batch, topt.batch, invcsi_get_threads());
        if (o.resume)
            fprintf(stderr, "%s: resuming %s at epoch %d, batch %d (step %ld)\n", PROG, o.resume,
                    st.epoch + 1, st.batch, st.step);
    }
    /* the data are not needed any more: the preprocessed copies are */
    invcsi_channels_free(&c);

    /* 3. train */
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
    invcsi_st_kv ck_meta[] = {
        {"threads", threads_text},
        {"command", orig_command},
        {"mode", "ideal"},
        {"data_fingerprint", fp_text},
        {"data_reports", n_text},
        {"max_train", mt_text},
    };
    topt.meta = ck_meta;
    topt.n_meta = (int)(sizeof ck_meta / sizeof ck_meta[0]);
    progress_ctx pc = {o.quiet, cfg.kind, NAN};
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
        invcsi_st_kv meta[10];
        int n = 0;
        meta[n++] = (invcsi_st_kv){"threads", threads_text};
        meta[n++] = (invcsi_st_kv){"command", orig_command};
        if (o.resume)
            meta[n++] = (invcsi_st_kv){"resume_command", command};
        meta[n++] = (invcsi_st_kv){"mode", "ideal"};
        meta[n++] = (invcsi_st_kv){"data_fingerprint", fp_text};
        meta[n++] = (invcsi_st_kv){"data_reports", n_text};
        meta[n++] = (invcsi_st_kv){"max_train", mt_text};
        meta[n++] = (invcsi_st_kv){"epochs", epochs_text};
        if (test_text[0])
            meta[n++] = (invcsi_st_kv){"test_nmse_db", test_text};
        if (invcsi_model_save(m, o.out, meta, n, &err) != INVCSI_OK)
            goto out;
        printf("%s: wrote %s: %s, M = %d (CR 1/%g), %ld parameters, %d epochs, %ld train "
               "reports%s%s%s\n",
               PROG, o.out, cfg.kind, cfg.m, (double)cfg.dim / cfg.m,
               invcsi_model_param_count(m, 1), st.epoch, d.n_train,
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

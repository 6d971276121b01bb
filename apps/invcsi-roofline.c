/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * invcsi-roofline: FLOPs and bytes per training step and per decoded report, counted from
 * a model's real layer list (lib/flops.c walks the core's structures), and a roofline
 * projection of training and decoding speed on a GPU given by its peak FP32 rate and
 * memory bandwidth. Nothing is run on a GPU: every time it prints is a projection.
 */
#include "cli.h"

#include "invcsi/flops.h"
#include "invcsi/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *PROG = "invcsi-roofline";

/* Vendor datasheet figures: FP32 without tensor cores / sparsity, and DRAM bandwidth. */
typedef struct machine {
    const char *name;
    double tflops;    /* peak FP32, 10^12 FLOP/s */
    double gbs;       /* memory bandwidth, 10^9 bytes/s */
    const char *what;
} machine;

static const machine PRESETS[] = {
    {"t4", 8.1, 320.0, "NVIDIA T4 (16 GB GDDR6)"},
    {"a100", 19.5, 2039.0, "NVIDIA A100 SXM4 80 GB (HBM2e)"},
    {"h100", 67.0, 3350.0, "NVIDIA H100 SXM5 80 GB (HBM3)"},
    {"rtx4090", 82.6, 1008.0, "NVIDIA GeForce RTX 4090 (24 GB GDDR6X)"},
};
#define N_PRESETS ((int)(sizeof PRESETS / sizeof PRESETS[0]))
#define MAX_MACHINES (N_PRESETS + 1)

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s (--weights W.safetensors | --model K [--cr R] [model options])\n"
            "       [--batch B] [--gpu NAME|all | --peak-tflops X --bandwidth-gbs Y]\n"
            "       [--efficiency E] [--epochs N] [--samples N] [--verbose] [--markdown]\n"
            "\n"
            "Counts FLOPs and bytes moved per training step (forward, backward, optimiser\n"
            "update) and per decoded report (decoder only, batch 1 and batch B) from the\n"
            "model's real layer list, and projects with a roofline model how fast a GPU of\n"
            "the given peak FP32 rate and memory bandwidth would train and decode it.\n"
            "NOTHING IS RUN ON A GPU: every time and rate printed is a PROJECTION.\n"
            "\n"
            "Model (default in brackets; the defaults are invcsi-train's):\n"
            "  --weights W     a weights file (its stored config); excludes the options below\n"
            "  --model K       inn | csinet | invcsinet [inn]\n"
            "  --cr R          compression ratio, 1/16 or 0.0625 [1/16]\n"
            "  --bits B        InvCSINet bits per latent value, 1..8 [4]\n"
            "  --width W       INN subnet width [sized by CR, as the trainer]\n"
            "  --blocks K      INN blocks [3]\n"
            "  --lan-width W   InvCSINet IC LAN width [16]\n"
            "  --nr/--nt/--nc  report size [1 x 32 x 32]\n"
            "\n"
            "Machine (default: every preset):\n"
            "  --gpu NAME      a preset, or all; their peak FP32 (no tensor cores, no\n"
            "                  sparsity) and DRAM bandwidth are vendor datasheet figures:\n",
            PROG);
    for (int i = 0; i < N_PRESETS; i++)
        fprintf(f, "                    %-8s %5.1f TFLOP/s FP32, %6.0f GB/s  %s\n",
                PRESETS[i].name, PRESETS[i].tflops, PRESETS[i].gbs, PRESETS[i].what);
    fprintf(f,
            "  --peak-tflops X --bandwidth-gbs Y   any other machine (both needed), e.g. a\n"
            "                  CPU; --label NAME names it [custom]\n"
            "  --efficiency E  fraction of peak FLOP rate AND bandwidth achieved, (0, 1]\n"
            "                  [1.0 = the ideal roofline: an UPPER BOUND on speed]\n"
            "\n"
            "Schedule and batch:\n"
            "  --batch B       reports per training step and per decode batch [128]\n"
            "  --epochs N      epochs of the schedule [1000, the paper's]\n"
            "  --samples N     training reports per epoch [12670, the paper's]; the trainer\n"
            "                  runs floor(N / B) full batches per epoch\n"
            "  --verbose       per-layer tables (training step, decoding at batch 1)\n"
            "  --markdown      also a Markdown table of the projections (for a README)\n"
            "  -h, --help      this text\n"
            "\n"
            "Counting (lib/flops.c): FP32; a multiply-add is 2 FLOPs; convs count every tap\n"
            "of their zero padding; element-wise ops count a transcendental as 1 FLOP. Bytes:\n"
            "each layer row is one unfused kernel that reads its inputs (activations,\n"
            "parameters, accumulated gradients, Adam moments) from memory and writes its\n"
            "outputs once, 4 bytes per value; no cache reuse between rows, no im2col copies.\n"
            "Roofline: a row takes max(FLOPs / (E x peak), bytes / (E x bandwidth)); a step is\n"
            "the sum of its rows. Not modelled: kernel launch and host overheads, data\n"
            "loading, per-epoch evaluation, caches that would keep small layers on chip.\n"
            "\n"
            "Exit status: 0 ok, 1 the weights file or model cannot be used, 2 bad usage.\n");
}

typedef struct opts {
    const char *weights, *model, *label;
    double cr, peak_tflops, bandwidth_gbs, efficiency;
    int bits, width, blocks, lan_width, nr, nt, nc, batch, epochs, samples, verbose, markdown;
    int model_given; /* a model option was given (conflicts with --weights) */
    const char *gpu;
} opts;

static int parse(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->model = "inn";
    o->cr = 1.0 / 16;
    o->bits = 4;
    o->lan_width = 16;
    o->nr = 1;
    o->nt = 32;
    o->nc = 32;
    o->batch = 128;
    o->epochs = 1000;
    o->samples = 12670;
    o->efficiency = 1.0;
    o->label = "custom";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            o->verbose = 1;
            continue;
        }
        if (!strcmp(a, "--markdown")) {
            o->markdown = 1;
            continue;
        }
        int m = 0, bad = 0;
        const char *v;
#define OPT(NAME, ACTION)                                                              \
    if (!m && ((v = cli_opt_value(PROG, argc, argv, &i, NAME, &m)) != NULL || m)) {    \
        if (!v)                                                                        \
            return -1;                                                                 \
        bad = (ACTION);                                                                \
    }
        OPT("--weights", (o->weights = v, 0))
        OPT("--model", (o->model = v, o->model_given = 1, 0))
        OPT("--cr", (o->model_given = 1, cli_parse_ratio(PROG, "--cr", v, &o->cr)))
        OPT("--bits", (o->model_given = 1, cli_parse_int(PROG, "--bits", v, 1, 8, &o->bits)))
        OPT("--width", (o->model_given = 1, cli_parse_int(PROG, "--width", v, 1, 4096, &o->width)))
        OPT("--blocks", (o->model_given = 1, cli_parse_int(PROG, "--blocks", v, 1, 64, &o->blocks)))
        OPT("--lan-width",
            (o->model_given = 1, cli_parse_int(PROG, "--lan-width", v, 1, 4096, &o->lan_width)))
        OPT("--nr", (o->model_given = 1, cli_parse_int(PROG, "--nr", v, 1, 4096, &o->nr)))
        OPT("--nt", (o->model_given = 1, cli_parse_int(PROG, "--nt", v, 1, 4096, &o->nt)))
        OPT("--nc", (o->model_given = 1, cli_parse_int(PROG, "--nc", v, 1, 4096, &o->nc)))
        OPT("--batch", cli_parse_int(PROG, "--batch", v, 2, 1 << 20, &o->batch))
        OPT("--gpu", (o->gpu = v, 0))
        OPT("--peak-tflops",
            cli_parse_double(PROG, "--peak-tflops", v, 1e-6, 1e6, &o->peak_tflops))
        OPT("--bandwidth-gbs",
            cli_parse_double(PROG, "--bandwidth-gbs", v, 1e-3, 1e7, &o->bandwidth_gbs))
        OPT("--label", (o->label = v, 0))
        OPT("--efficiency",
            cli_parse_double(PROG, "--efficiency", v, 1e-6, 1.0, &o->efficiency))
        OPT("--epochs", cli_parse_int(PROG, "--epochs", v, 1, 100000000, &o->epochs))
        OPT("--samples", cli_parse_int(PROG, "--samples", v, 1, 2147483647L, &o->samples))
#undef OPT
        if (!m) {
            fprintf(stderr, "%s: unknown option or argument '%s' (see --help)\n", PROG, a);
            return -1;
        }
        if (bad)
            return -1;
    }
    if (o->weights && o->model_given) {
        fprintf(stderr,
                "%s: --weights fixes the model: --model, --cr, --bits, --width, --blocks, "
                "--lan-width, --nr/--nt/--nc cannot be given with it\n",
                PROG);
        return -1;
    }
    if (!o->weights && !invcsi_model_ops_find(o->model)) {
        fprintf(stderr, "%s: bad value '%s' for --model: expected inn, csinet or invcsinet\n",
                PROG, o->model);
        return -1;
    }
    if ((o->peak_tflops > 0) != (o->bandwidth_gbs > 0)) {
        fprintf(stderr, "%s: --peak-tflops and --bandwidth-gbs go together: give both\n", PROG);
        return -1;
    }
    if (o->peak_tflops > 0 && o->gpu) {
        fprintf(stderr, "%s: give either --gpu or --peak-tflops/--bandwidth-gbs, not both\n",
                PROG);
        return -1;
    }
    if (o->samples < o->batch) {
        fprintf(stderr,
                "%s: --samples %d is smaller than --batch %d: an epoch would hold no full "
                "batch\n",
                PROG, o->samples, o->batch);
        return -1;
    }
    return 0;
}

static int pick_machines(const opts *o, machine *out)
{
    if (o->peak_tflops > 0) {
        out[0] = (machine){o->label, o->peak_tflops, o->bandwidth_gbs, "given on the command line"};
        return 1;
    }
    if (!o->gpu || !strcmp(o->gpu, "all")) {
        for (int i = 0; i < N_PRESETS; i++)
            out[i] = PRESETS[i];
        return N_PRESETS;
    }
    for (int i = 0; i < N_PRESETS; i++)
        if (!strcmp(o->gpu, PRESETS[i].name)) {
            out[0] = PRESETS[i];
            return 1;
        }
    fprintf(stderr, "%s: bad value '%s' for --gpu: known presets are", PROG, o->gpu);
    for (int i = 0; i < N_PRESETS; i++)
        fprintf(stderr, " %s", PRESETS[i].name);
    fprintf(stderr, ", or all (other machines: --peak-tflops and --bandwidth-gbs)\n");
    return -1;
}

static void duration(double s, char *buf, size_t n)
{
    if (s < 1e-3)
        snprintf(buf, n, "%.1f us", s * 1e6);
    else if (s < 1.0)
        snprintf(buf, n, "%.2f ms", s * 1e3);
    else if (s < 120.0)
        snprintf(buf, n, "%.1f s", s);
    else if (s < 7200.0)
        snprintf(buf, n, "%.1f min", s / 60.0);
    else if (s < 3 * 86400.0)
        snprintf(buf, n, "%.1f h", s / 3600.0);
    else
        snprintf(buf, n, "%.1f days", s / 86400.0);
}

static double intensity(double flops, double bytes) { return bytes > 0 ? flops / bytes : 0.0; }

static const char *PHASE_NAME[INVCSI_COST_PHASES] = {"forward", "backward", "update"};

static void print_counts(const invcsi_cost *train, const invcsi_cost *dec1,
                         const invcsi_cost *decb)
{
    printf("\nCounted per training step, batch %d:\n", train->batch);
    printf("  %-10s %12s %12s %10s %10s %10s %10s %10s\n", "phase", "GFLOP", "MB moved",
           "params MB", "acts MB", "grads MB", "Adam MB", "FLOP/byte");
    double tf = 0, tb = 0, cat[4] = {0, 0, 0, 0};
    for (int p = 0; p < INVCSI_COST_PHASES; p++) {
        double c[4] = {0, 0, 0, 0};
        for (int i = 0; i < train->n_rows; i++) {
            const invcsi_cost_row *r = &train->rows[i];
            if (r->phase != p)
                continue;
            c[0] += r->param_bytes;
            c[1] += r->act_bytes;
            c[2] += r->grad_bytes;
            c[3] += r->opt_bytes;
        }
        printf("  %-10s %12.4f %12.3f %10.3f %10.3f %10.3f %10.3f %10.2f\n", PHASE_NAME[p],
               train->flops[p] / 1e9, train->bytes[p] / 1e6, c[0] / 1e6, c[1] / 1e6,
               c[2] / 1e6, c[3] / 1e6, intensity(train->flops[p], train->bytes[p]));
        tf += train->flops[p];
        tb += train->bytes[p];
        for (int k = 0; k < 4; k++)
            cat[k] += c[k];
    }
    printf("  %-10s %12.4f %12.3f %10.3f %10.3f %10.3f %10.3f %10.2f\n", "step", tf / 1e9,
           tb / 1e6, cat[0] / 1e6, cat[1] / 1e6, cat[2] / 1e6, cat[3] / 1e6, intensity(tf, tb));
    printf("  per training sample: %.3f MFLOP, %.1f KB\n", tf / train->batch / 1e6,
           tb / train->batch / 1e3);

    printf("\nCounted per decoded report (decoder only):\n");
    printf("  %-12s %14s %14s %10s\n", "decode batch", "MFLOP/report", "KB/report",
           "FLOP/byte");
    const invcsi_cost *d[2] = {dec1, decb};
    for (int k = 0; k < 2; k++) {
        const double f = d[k]->flops[INVCSI_COST_FORWARD], b = d[k]->bytes[INVCSI_COST_FORWARD];
        printf("  %-12d %14.4f %14.2f %10.2f\n", d[k]->batch, f / d[k]->batch / 1e6,
               b / d[k]->batch / 1e3, intensity(f, b));
    }
}

static void print_layers(const char *title, const invcsi_cost *c, const machine *ms, int nm,
                         double eff)
{
    printf("\nPer layer, %s (batch %d); time per row is a projection on each machine "
           "(C = compute-bound, M = memory-bound):\n",
           title, c->batch);
    printf("  %-3s %-44s %-12s %11s %11s %8s", "ph", "layer", "op", "MFLOP", "KB", "FLOP/B");
    for (int k = 0; k < nm; k++)
        printf(" %12.12s", ms[k].name);
    printf("\n");
    for (int i = 0; i < c->n_rows; i++) {
        const invcsi_cost_row *r = &c->rows[i];
        static const char *SHORT[INVCSI_COST_PHASES] = {"fwd", "bwd", "upd"};
        printf("  %-3.3s %-44.44s %-12.12s %11.4f %11.2f %8.2f", SHORT[r->phase], r->name,
               r->op, r->flops / 1e6, r->bytes / 1e3, intensity(r->flops, r->bytes));
        for (int k = 0; k < nm; k++) {
            int cb;
            const double t =
                invcsi_roofline_row_time(r, eff * ms[k].tflops * 1e12, eff * ms[k].gbs * 1e9, &cb);
            printf(" %9.2fus %c", t * 1e6, cb ? 'C' : 'M');
        }
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    opts o;
    if (parse(argc, argv, &o) != 0)
        return 2;
    machine ms[MAX_MACHINES];
    const int nm = pick_machines(&o, ms);
    if (nm < 0)
        return 2;

    invcsi_error err;
    invcsi_error_clear(&err);
    invcsi_model *m = NULL;
    /* max_batch 2: the counting reads the config and the parameter table only */
    if (o.weights) {
        if (invcsi_model_load(&m, o.weights, 2, &err) != INVCSI_OK) {
            fprintf(stderr, "%s: %s\n", PROG, err.msg);
            return 1;
        }
    } else {
        invcsi_model_config cfg;
        if (invcsi_model_config_default(&cfg, o.model, o.nr, o.nt, o.nc, o.cr, &err) !=
            INVCSI_OK) {
            fprintf(stderr, "%s: %s\n", PROG, err.msg);
            return 2;
        }
        if (o.width > 0)
            cfg.width = o.width;
        if (o.blocks > 0)
            cfg.blocks = o.blocks;
        if (!strcmp(o.model, "invcsinet")) {
            cfg.bits = o.bits;
            cfg.lan_width = o.lan_width;
        }
        if (invcsi_model_create(&m, &cfg, 2, &err) != INVCSI_OK) {
            fprintf(stderr, "%s: %s\n", PROG, err.msg);
            return 1;
        }
    }
    const invcsi_model_config *cfg = &m->cfg;

    invcsi_cost train, dec1, decb;
    memset(&dec1, 0, sizeof dec1);
    memset(&decb, 0, sizeof decb);
    int rc = invcsi_cost_train_step(m, o.batch, &train, &err);
    if (rc == INVCSI_OK)
        rc = invcsi_cost_decode(m, 1, &dec1, &err);
    if (rc == INVCSI_OK)
        rc = invcsi_cost_decode(m, o.batch, &decb, &err);
    if (rc != INVCSI_OK) {
        fprintf(stderr, "%s: %s\n", PROG, err.msg);
        invcsi_cost_free(&train);
        invcsi_cost_free(&dec1);
        invcsi_model_destroy(m);
        return 1;
    }

    /* ---- what was counted ---- */
    printf("%s: %s%s\n", PROG, o.weights ? "weights " : "model ", o.weights ? o.weights : cfg->kind);
    printf("model:      %s, latent M = %d of dim %d (CR 1/%g), report %d x %d x %d", cfg->kind,
           cfg->m, cfg->dim, (double)cfg->dim / cfg->m, cfg->nr, cfg->nt, cfg->nc);
    if (strcmp(cfg->kind, "csinet") != 0)
        printf(", INN %d blocks of width %d, patch %d", cfg->blocks, cfg->width, cfg->patch);
    else
        printf(", %d RefineNet blocks", cfg->refine_blocks);
    if (!strcmp(cfg->kind, "invcsinet"))
        printf(", B = %d bits, LAN width %d%s%s%s", cfg->bits, cfg->lan_width,
               cfg->no_ic ? ", no_ic" : "", cfg->no_dbcd ? ", no_dbcd" : "",
               cfg->freeze_inn ? ", freeze_inn" : "");
    printf("\n");
    printf("parameters: %ld trainable (invcsi_model_param_count); the layer walk visits %ld "
           "in a training step%s, %ld in the decoder\n",
           invcsi_model_param_count(m, 1), train.params_walked,
           train.params_walked != invcsi_model_param_count(m, 1) ? " (frozen layers included)" : "",
           dec1.params_walked);

    print_counts(&train, &dec1, &decb);
    if (o.verbose) {
        print_layers("training step", &train, ms, nm, o.efficiency);
        print_layers("decoding", &dec1, ms, nm, o.efficiency);
    }

    /* ---- projections ---- */
    const long steps_per_epoch = o.samples / o.batch;
    printf("\nRoofline PROJECTIONS (nothing here was run on a GPU). Assumptions: efficiency "
           "%.2f of peak FP32 and of bandwidth%s;\n"
           "each layer row is a separate kernel taking max(FLOPs/rate, bytes/bandwidth); no "
           "launch, host, data-loading or evaluation time.\n"
           "Schedule: %d epochs x %d samples = %d epochs x %ld steps of %d (the trainer drops "
           "each epoch's last partial batch).\n",
           o.efficiency, o.efficiency == 1.0 ? " (1.0 = the ideal roofline: an UPPER BOUND)" : "",
           o.epochs, o.samples, o.epochs, steps_per_epoch, o.batch);
    printf("Launch latency is not modelled: a training step is %d kernel rows, a decode %d; at "
           "a few microseconds per launch, small batches (batch-1 decoding above all) are "
           "launch-bound on a real GPU, CUDA graphs or not.\n",
           train.n_rows, dec1.n_rows);
    for (int k = 0; k < nm; k++) {
        const double peak = o.efficiency * ms[k].tflops * 1e12;
        const double bw = o.efficiency * ms[k].gbs * 1e9;
        double share, dshare1, dshareb;
        const double t_step = invcsi_roofline_time(&train, 7, peak, bw, &share);
        const double t_fwd = invcsi_roofline_time(&train, 1, peak, bw, NULL);
        const double t_bwd = invcsi_roofline_time(&train, 2, peak, bw, NULL);
        const double t_upd = invcsi_roofline_time(&train, 4, peak, bw, NULL);
        const double t_d1 = invcsi_roofline_time(&dec1, 7, peak, bw, &dshare1);
        const double t_db = invcsi_roofline_time(&decb, 7, peak, bw, &dshareb);
        const double t_sched = (double)o.epochs * steps_per_epoch * t_step;
        char a[32], b[32], c[32], d[32], e[32];
        printf("\n%s: %.4g TFLOP/s FP32, %.4g GB/s (%s%s), ridge %.1f FLOP/byte\n", ms[k].name,
               ms[k].tflops, ms[k].gbs, ms[k].what,
               k < N_PRESETS && o.peak_tflops <= 0 ? "; vendor datasheet figures" : "",
               ms[k].tflops * 1e12 / (ms[k].gbs * 1e9));
        duration(t_step, a, sizeof a);
        duration(t_fwd, b, sizeof b);
        duration(t_bwd, c, sizeof c);
        duration(t_upd, d, sizeof d);
        printf("  projection: training step, batch %-5d %12s  (forward %s, backward %s, "
               "update %s; %.0f%% of it in compute-bound layers)\n",
               o.batch, a, b, c, d, 100.0 * share);
        printf("  projection: training samples/s        %12.0f\n", o.batch / t_step);
        duration(t_sched, e, sizeof e);
        printf("  projection: schedule %d x %d      %12s  (%ld steps)\n", o.epochs, o.samples, e,
               (long)o.epochs * steps_per_epoch);
        duration(t_d1 / 1, a, sizeof a);
        printf("  projection: decoded reports/s, batch 1 %11.0f  (%s per report; %.0f%% "
               "compute-bound)\n",
               1.0 / t_d1, a, 100.0 * dshare1);
        duration(t_db, b, sizeof b);
        printf("  projection: decoded reports/s, batch %-4d%10.0f  (%s per batch; %.0f%% "
               "compute-bound)\n",
               o.batch, o.batch / t_db, b, 100.0 * dshareb);
    }
    if (o.markdown) {
        printf("\n| machine (peak FP32, bandwidth) | training step, batch %d (projection) | "
               "training samples/s (projection) | %d x %d schedule (projection) | decoded "
               "reports/s, batch 1 (projection) | decoded reports/s, batch %d (projection) |\n",
               o.batch, o.epochs, o.samples, o.batch);
        printf("|---|---:|---:|---:|---:|---:|\n");
        for (int k = 0; k < nm; k++) {
            const double peak = o.efficiency * ms[k].tflops * 1e12;
            const double bw = o.efficiency * ms[k].gbs * 1e9;
            const double t_step = invcsi_roofline_time(&train, 7, peak, bw, NULL);
            const double t_d1 = invcsi_roofline_time(&dec1, 7, peak, bw, NULL);
            const double t_db = invcsi_roofline_time(&decb, 7, peak, bw, NULL);
            char a[32], b[32];
            duration(t_step, a, sizeof a);
            duration((double)o.epochs * steps_per_epoch * t_step, b, sizeof b);
            printf("| %s (%.4g TFLOP/s, %.4g GB/s) | %s | %.0f | %s | %.0f | %.0f |\n", ms[k].name,
                   ms[k].tflops, ms[k].gbs, a, o.batch / t_step, b, 1.0 / t_d1, o.batch / t_db);
        }
        printf("\nRoofline projections at efficiency %.2f%s, from `invcsi-roofline`; not "
               "measured on a GPU. Kernel launch latency (%d kernels per step, %d per decode) "
               "is not included: it dominates batch-1 decoding on a real GPU.\n",
               o.efficiency, o.efficiency == 1.0 ? " (ideal roofline: upper bounds)" : "",
               train.n_rows, dec1.n_rows);
    }
    invcsi_cost_free(&train);
    invcsi_cost_free(&dec1);
    invcsi_cost_free(&decb);
    invcsi_model_destroy(m);
    return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Helpers shared by the command-line programs: option parsing and progress on stderr. */
#ifndef INVCSI_CLI_H
#define INVCSI_CLI_H

#include <stdint.h>

/* Each parser prints "PROG: bad value 'S' for OPT: ..." to stderr and returns -1 on error. */
int cli_parse_int(const char *prog, const char *opt, const char *s, long min, long max, int *out);
int cli_parse_u64(const char *prog, const char *opt, const char *s, uint64_t *out);
int cli_parse_double(const char *prog, const char *opt, const char *s, double min, double max,
                     double *out);
/* Compression ratio as "1/16" or "0.0625". */
int cli_parse_ratio(const char *prog, const char *opt, const char *s, double *out);

/* Progress printer matching invcsi_progress_fn; ctx is a struct cli_progress. Prints at
 * most every 0.5 s (and at the end) "label: done/total (pct%), rate/s, ETA s" to stderr. */
struct cli_progress {
    const char *label;
    const char *unit;   /* e.g. "samples" */
    double t_start;
    double t_last;
    int quiet;
};
void cli_progress_start(struct cli_progress *p, const char *label, const char *unit, int quiet);
void cli_progress_cb(void *ctx, long done, long total);

/* --opt VALUE or --opt=VALUE at argv[*i]: returns the value (advancing *i past it) or
 * NULL; *matched tells whether argv[*i] was this option (a NULL value with *matched set
 * means the value is missing: the message is printed). */
const char *cli_opt_value(const char *prog, int argc, char **argv, int *i, const char *name,
                          int *matched);
/* Shell-quoted argv joined by spaces (malloc'd), for the "command" stored with outputs. */
char *cli_join_command(int argc, char **argv);

/* --device of the programs: "cpu", "cuda" or "auto" (0), else a message and -1. */
int cli_parse_device(const char *prog, const char *v);
/* Selects the backend the models compute on (include/invcsi/backend.h): they need
 * INVCSI_BACKEND_CAP_MODELS, which only the CPU table has in this version, so `cuda` fails
 * with the reason (the CUDA error string where there is no GPU; "prog: message" on stderr,
 * -1) and `auto` logs its choice as "prog: line". 0 on success. */
int cli_select_device(const char *prog, const char *device);
/* The same for a caller needing the backend capabilities `need` (backend.h, e.g.
 * invcsi_backend_caps_for_kind("inn")); *out (may be NULL) receives the table. */
struct invcsi_backend;
int cli_select_device_caps(const char *prog, const char *device, unsigned need,
                           const struct invcsi_backend **out);

/* Monotonic wall clock, seconds. */
double cli_now(void);

#endif

/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Error reporting for the gr-invcsi C core.
 *
 * Every core function that can fail returns an int status (INVCSI_OK == 0, or a
 * negative INVCSI_E* code) and, when given a non-NULL invcsi_error, fills it with a
 * message a program or a GNU Radio block can show to the user as it is.
 * The library never calls exit() or abort().
 */
#ifndef INVCSI_ERROR_H
#define INVCSI_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    INVCSI_OK = 0,
    INVCSI_EINVAL = -1,      /* bad argument or option value */
    INVCSI_EIO = -2,         /* file cannot be opened, read or written */
    INVCSI_EFORMAT = -3,     /* file exists but its content is wrong */
    INVCSI_ENOMEM = -4,      /* allocation failed */
    INVCSI_EUNSUPPORTED = -5,/* feature not built in or not available here */
    INVCSI_EDEVICE = -6,     /* compute device (CUDA) error */
    INVCSI_EINTERRUPTED = -7 /* stopped on request (Ctrl-C) */
};

#define INVCSI_ERROR_MSG_LEN 512

typedef struct invcsi_error {
    int code;
    char msg[INVCSI_ERROR_MSG_LEN];
} invcsi_error;

/* Records code and a printf-style message in err (if err != NULL); returns code. */
int invcsi_error_set(invcsi_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Resets err to INVCSI_OK with an empty message. */
void invcsi_error_clear(invcsi_error *err);

/* Short name of a code, e.g. "invalid argument". */
const char *invcsi_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif

/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "invcsi/error.h"

#include <stdarg.h>
#include <stdio.h>

int invcsi_error_set(invcsi_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void invcsi_error_clear(invcsi_error *err)
{
    if (err) {
        err->code = INVCSI_OK;
        err->msg[0] = '\0';
    }
}

const char *invcsi_strerror(int code)
{
    switch (code) {
    case INVCSI_OK: return "ok";
    case INVCSI_EINVAL: return "invalid argument";
    case INVCSI_EIO: return "input/output error";
    case INVCSI_EFORMAT: return "bad file format";
    case INVCSI_ENOMEM: return "out of memory";
    case INVCSI_EUNSUPPORTED: return "not supported";
    case INVCSI_EDEVICE: return "device error";
    case INVCSI_EINTERRUPTED: return "interrupted";
    default: return "unknown error";
    }
}

/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_API_H
#define INCLUDED_INVCSI_API_H

#include <gnuradio/attributes.h>

/* gnuradio_invcsi_EXPORTS is defined while building libgnuradio-invcsi (the
 * DEFINE_SYMBOL of the target, as gr_modtool sets it up), so the block classes are
 * exported from it and imported by everything that links it. */
#ifdef gnuradio_invcsi_EXPORTS
#define INVCSI_API __GR_ATTR_EXPORT
#else
#define INVCSI_API __GR_ATTR_IMPORT
#endif

#endif /* INCLUDED_INVCSI_API_H */

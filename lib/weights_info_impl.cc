/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The sizes of a weights file, read through the C core's model loader.
 */

#include "block_core.h"
#include <gnuradio/invcsi/weights_info.h>

namespace gr {
namespace invcsi {

weights_info weights_info::read(const std::string& path)
{
    core_model_ptr m = load_weights("weights_info", path, 1);
    weights_info w;
    w.path = path;
    w.kind = m->cfg.kind;
    w.nr = m->cfg.nr;
    w.nt = m->cfg.nt;
    w.nc = m->cfg.nc;
    w.vlen = m->cfg.nr * m->cfg.nt * m->cfg.nc;
    w.dim = m->cfg.dim;
    w.m = m->cfg.m;
    if (invcsi_is_invcsinet(m.get())) {
        w.bits = invcsi_invcsinet_bits(m.get());
        w.mapping = invcsi_bitmap_name(invcsi_invcsinet_mapping(m.get()));
        w.payload_bits = w.bits * w.m;
    }
    w.norm_scale = m->cfg.norm_scale;
    return w;
}

} /* namespace invcsi */
} /* namespace gr */

/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A thin shell around the C core: the InvCSINet hard DAQ (invcsi_invcsinet_quantize) or
 * the core's uniform quantizer (daq.h: invcsi_daq_init_uniform, invcsi_daq_derive,
 * invcsi_daq_quantize), then the bit labels of the link (invcsi_indices_to_bits). This
 * file only moves buffers.
 */

#include "daq_quantizer_impl.h"
#include <gnuradio/io_signature.h>

namespace gr {
namespace invcsi {

namespace {
const char* const WHO = "daq_quantizer";
}

daq_quantizer::sptr daq_quantizer::make(const std::string& weights,
                                        int bits,
                                        float range,
                                        const std::string& mapping,
                                        int batch,
                                        const std::string& len_tag_key)
{
    core_model_ptr model = load_weights(WHO, weights, batch);
    const quantizer_setup q = resolve_quantizer(WHO, model.get(), bits, range, mapping);
    if ((long long)q.bits * model->cfg.m > (1 << 24))
        throw std::invalid_argument(std::string("invcsi ") + WHO + ": " +
                                    std::to_string((long long)q.bits * model->cfg.m) +
                                    " bits per report is too large");
    return gnuradio::make_block_sptr<daq_quantizer_impl>(
        std::move(model), q, batch, len_tag_key);
}

daq_quantizer_impl::daq_quantizer_impl(core_model_ptr model,
                                       const quantizer_setup& q,
                                       int batch,
                                       const std::string& len_tag_key)
    : gr::sync_interpolator("daq_quantizer",
                            gr::io_signature::make(1, 1, sizeof(float) * model->cfg.m),
                            gr::io_signature::make(1, 1, sizeof(uint8_t)),
                            q.bits * model->cfg.m),
      d_model(std::move(model)),
      d_q(q),
      d_m(d_model->cfg.m),
      d_batch(batch),
      d_idx((size_t)batch * d_m),
      d_ucfg{ d_m, q.bits, q.range },
      d_ut{},
      d_len_key(len_tag_key.empty() ? pmt::PMT_NIL : pmt::intern(len_tag_key)),
      d_len_value(pmt::from_long((long)q.bits * d_m))
{
    if (!d_q.learned) {
        invcsi_error err;
        invcsi_error_clear(&err);
        if (invcsi_daq_check(&d_ucfg, &err) != INVCSI_OK)
            throw_core(WHO, err);
        const long raw = (long)d_m * (invcsi_daq_levels_count(&d_ucfg) - 1);
        d_uraw.resize(2 * raw);
        d_utables.resize(invcsi_daq_tables_floats(&d_ucfg));
        if (invcsi_daq_init_uniform(&d_ucfg, d_uraw.data(), d_uraw.data() + raw, &err) !=
            INVCSI_OK)
            throw_core(WHO, err);
        invcsi_daq_tables_bind(&d_ut, &d_ucfg, d_utables.data());
        invcsi_daq_derive(&d_ucfg, d_uraw.data(), d_uraw.data() + raw, &d_ut);
        d_logger->info("{} weights have no DAQ: uniform {}-bit quantizer on [-{}, {}], {} "
                       "labels, M = {} -> {} bits per report",
                       d_model->cfg.kind,
                       d_q.bits,
                       d_q.range,
                       d_q.range,
                       invcsi_bitmap_name(d_q.mapping),
                       d_m,
                       d_q.bits * d_m);
    } else {
        d_logger->info("learned DAQ of the InvCSINet weights: {} bits, {} labels, M = {} -> "
                       "{} bits per report",
                       d_q.bits,
                       invcsi_bitmap_name(d_q.mapping),
                       d_m,
                       d_q.bits * d_m);
    }
    if (!pmt::is_null(d_len_key))
        set_tag_propagation_policy(TPP_DONT); // the per-report tags are the only ones
}

daq_quantizer_impl::~daq_quantizer_impl() {}

int daq_quantizer_impl::work(int noutput_items,
                             gr_vector_const_void_star& input_items,
                             gr_vector_void_star& output_items)
{
    const float* y = reinterpret_cast<const float*>(input_items[0]);
    uint8_t* bits = reinterpret_cast<uint8_t*>(output_items[0]);
    const long nbits = (long)d_q.bits * d_m;
    const long reports = noutput_items / nbits; // noutput_items is a multiple of B*M

    invcsi_error err;
    for (long at = 0; at < reports; at += d_batch) {
        const int n = (int)(reports - at < d_batch ? reports - at : d_batch);
        const float* yb = y + at * d_m;
        if (d_q.learned) {
            if (invcsi_invcsinet_quantize(d_model.get(), yb, n, d_idx.data(), &err) !=
                INVCSI_OK)
                throw_core(WHO, err);
        } else {
            invcsi_daq_quantize(&d_ucfg, &d_ut, yb, n, d_idx.data());
        }
        if (invcsi_indices_to_bits(bits + at * nbits,
                                   d_idx.data(),
                                   (long)n * d_m,
                                   d_q.bits,
                                   d_q.mapping,
                                   &err) != INVCSI_OK)
            throw_core(WHO, err);
    }
    if (!pmt::is_null(d_len_key)) {
        const uint64_t first = nitems_written(0);
        for (long r = 0; r < reports; r++)
            add_item_tag(0, first + r * nbits, d_len_key, d_len_value);
    }
    return (int)(reports * nbits);
}

} /* namespace invcsi */
} /* namespace gr */

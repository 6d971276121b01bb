/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A thin shell around the C core's bit link (bitlink.h): invcsi_bpsk_map_complex.
 */

#include "bpsk_bit_mapper_impl.h"
#include <gnuradio/io_signature.h>
#include <cmath>
#include <stdexcept>
#include <string>

extern "C" {
#include <invcsi/bitlink.h>
}

namespace gr {
namespace invcsi {

namespace {

float checked_es(const char* who, float es)
{
    if (!(std::isfinite(es) && es > 0.0f))
        throw std::invalid_argument(std::string("invcsi ") + who +
                                    ": es (symbol energy) must be > 0 and finite, got " +
                                    std::to_string(es));
    return es;
}

} // namespace

bpsk_bit_mapper::sptr bpsk_bit_mapper::make(float es)
{
    return gnuradio::make_block_sptr<bpsk_bit_mapper_impl>(
        checked_es("bpsk_bit_mapper", es));
}

double bpsk_bit_mapper::noise_voltage(double ebn0_db, double es)
{
    if (!std::isfinite(ebn0_db))
        throw std::invalid_argument("invcsi bpsk_bit_mapper: ebn0_db must be finite");
    checked_es("bpsk_bit_mapper", (float)es);
    // channel_model's noise has total variance voltage^2 = N0 (N0/2 per real dimension).
    return std::sqrt(invcsi_bpsk_n0(es, invcsi_db_to_linear(ebn0_db)));
}

bpsk_bit_mapper_impl::bpsk_bit_mapper_impl(float es)
    : gr::sync_block("bpsk_bit_mapper",
                     gr::io_signature::make(1, 1, sizeof(uint8_t)),
                     gr::io_signature::make(1, 1, sizeof(gr_complex))),
      d_es(es)
{
    d_logger->debug("Es = {}", es);
}

bpsk_bit_mapper_impl::~bpsk_bit_mapper_impl() {}

void bpsk_bit_mapper_impl::set_es(float es) { d_es.store(checked_es("bpsk_bit_mapper", es)); }

int bpsk_bit_mapper_impl::work(int noutput_items,
                               gr_vector_const_void_star& input_items,
                               gr_vector_void_star& output_items)
{
    invcsi_bpsk_map_complex(reinterpret_cast<float*>(output_items[0]),
                            reinterpret_cast<const uint8_t*>(input_items[0]),
                            noutput_items,
                            d_es.load());
    return noutput_items;
}

} /* namespace invcsi */
} /* namespace gr */

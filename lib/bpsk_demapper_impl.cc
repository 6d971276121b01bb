/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A thin shell around the C core's bit link (bitlink.h): invcsi_bpsk_hard and
 * invcsi_bpsk_llr on interleaved complex symbols (stride 2 = the real parts).
 */

#include "bpsk_demapper_impl.h"
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

float checked_es(float es)
{
    if (!(std::isfinite(es) && es > 0.0f))
        throw std::invalid_argument(
            "invcsi bpsk_demapper: es (symbol energy) must be > 0 and finite, got " +
            std::to_string(es));
    return es;
}

double checked_ebn0(double ebn0_db)
{
    // Finite and within what a float LLR scale can hold (N0 neither 0 nor inf).
    if (!(std::isfinite(ebn0_db) && ebn0_db > -200.0 && ebn0_db < 200.0))
        throw std::invalid_argument(
            "invcsi bpsk_demapper: ebn0_db must be finite and in (-200, 200) dB, got " +
            std::to_string(ebn0_db));
    return ebn0_db;
}

double core_n0(float es, double ebn0_db)
{
    return invcsi_bpsk_n0(es, invcsi_db_to_linear(ebn0_db));
}

} // namespace

bpsk_demapper::sptr bpsk_demapper::make(bool soft, float es, double ebn0_db)
{
    return gnuradio::make_block_sptr<bpsk_demapper_impl>(
        soft, checked_es(es), checked_ebn0(ebn0_db));
}

bpsk_demapper_impl::bpsk_demapper_impl(bool soft, float es, double ebn0_db)
    : gr::sync_block("bpsk_demapper",
                     gr::io_signature::make(1, 1, sizeof(gr_complex)),
                     gr::io_signature::make(1, 1, soft ? sizeof(float) : sizeof(uint8_t))),
      d_soft(soft),
      d_es(es),
      d_ebn0_db(ebn0_db)
{
    if (d_soft)
        d_logger->debug("soft: LLR, Es = {}, Eb/N0 = {} dB (N0 = {})",
                        d_es,
                        d_ebn0_db,
                        core_n0(d_es, d_ebn0_db));
    else
        d_logger->debug("hard decisions");
}

bpsk_demapper_impl::~bpsk_demapper_impl() {}

float bpsk_demapper_impl::es() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_es;
}

double bpsk_demapper_impl::ebn0_db() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return d_ebn0_db;
}

double bpsk_demapper_impl::n0() const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    return core_n0(d_es, d_ebn0_db);
}

void bpsk_demapper_impl::set_es(float es)
{
    checked_es(es);
    std::lock_guard<std::mutex> lock(d_mutex);
    d_es = es;
}

void bpsk_demapper_impl::set_ebn0_db(double ebn0_db)
{
    checked_ebn0(ebn0_db);
    std::lock_guard<std::mutex> lock(d_mutex);
    d_ebn0_db = ebn0_db;
}

int bpsk_demapper_impl::work(int noutput_items,
                             gr_vector_const_void_star& input_items,
                             gr_vector_void_star& output_items)
{
    // gr_complex is float[2] (re, im): stride 2 walks the real parts.
    const float* rx = reinterpret_cast<const float*>(input_items[0]);
    if (d_soft) {
        float es;
        double n0;
        {
            std::lock_guard<std::mutex> lock(d_mutex);
            es = d_es;
            n0 = core_n0(d_es, d_ebn0_db);
        }
        invcsi_bpsk_llr(reinterpret_cast<float*>(output_items[0]), rx, noutput_items, 2, es, n0);
    } else {
        invcsi_bpsk_hard(reinterpret_cast<uint8_t*>(output_items[0]), rx, noutput_items, 2);
    }
    return noutput_items;
}

} /* namespace invcsi */
} /* namespace gr */

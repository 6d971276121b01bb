/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_STQE_DECODER_IMPL_H
#define INCLUDED_INVCSI_STQE_DECODER_IMPL_H

#include "block_core.h"
#include <gnuradio/invcsi/stqe_decoder.h>
#include <atomic>
#include <deque>
#include <mutex>
#include <vector>

namespace gr {
namespace invcsi {

class stqe_decoder_impl : public stqe_decoder
{
public:
    enum drop_mode { DROP_ZEROS, DROP_HOLD, DROP_SKIP };

private:
    core_model_ptr d_model;
    core_dft_ptr d_dft;
    const drop_mode d_on_drop;
    const pmt::pmt_t d_port;     // "pdus"
    const pmt::pmt_t d_drop_key; // "stqe_dropped"
    std::vector<float> d_xhat;   // one reconstruction x^ (preprocessed domain)
    std::vector<float> d_last;   // last decoded H^ (interleaved re, im), for "hold"
    bool d_warned_not_pdu;

    // PDUs wait here between the message handler and general_work (same thread, but
    // reset_counters() and the getters may come from Python).
    mutable std::mutex d_mutex;
    std::deque<pmt::pmt_t> d_queue;
    std::map<std::string, uint64_t> d_faults;
    std::atomic<uint64_t> d_received;
    std::atomic<uint64_t> d_decoded;
    std::atomic<uint64_t> d_dropped;
    std::atomic<uint64_t> d_out;

    void handle_pdu(const pmt::pmt_t& msg);
    void count_drop(const std::string& fault);

public:
    stqe_decoder_impl(core_model_ptr model, drop_mode on_drop);
    ~stqe_decoder_impl() override;

    int nr() const override { return d_model->cfg.nr; }
    int nt() const override { return d_model->cfg.nt; }
    int nc() const override { return d_model->cfg.nc; }
    int vlen() const override { return d_model->cfg.nr * d_model->cfg.nt * d_model->cfg.nc; }
    int m() const override { return d_model->cfg.m; }
    int bits() const override;
    std::string on_drop() const override;
    uint64_t received() const override { return d_received.load(); }
    uint64_t decoded() const override { return d_decoded.load(); }
    uint64_t dropped() const override { return d_dropped.load(); }
    std::map<std::string, uint64_t> drop_faults() const override;
    uint64_t reports_out() const override { return d_out.load(); }
    void reset_counters() override;

    int general_work(int noutput_items,
                     gr_vector_int& ninput_items,
                     gr_vector_const_void_star& input_items,
                     gr_vector_void_star& output_items) override;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_STQE_DECODER_IMPL_H */

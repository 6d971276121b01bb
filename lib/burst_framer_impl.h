/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_BURST_FRAMER_IMPL_H
#define INCLUDED_INVCSI_BURST_FRAMER_IMPL_H

#include <gnuradio/invcsi/burst_framer.h>
#include <atomic>

extern "C" {
#include <invcsi/burst.h>
}

namespace gr {
namespace invcsi {

class burst_framer_impl : public burst_framer
{
private:
    invcsi_burst_format d_fmt;
    bool d_burst_tags;
    std::atomic<long long> d_bursts;
    std::atomic<int> d_counter;
    pmt::pmt_t d_report_key, d_sob_key, d_eob_key;

protected:
    int calculate_output_stream_length(const gr_vector_int& ninput_items) override;

public:
    burst_framer_impl(const std::string& len_tag_key,
                      const invcsi_burst_format& fmt,
                      int first_counter,
                      bool burst_tags);
    ~burst_framer_impl() override;

    long long bursts() const override { return d_bursts.load(); }
    int next_counter() const override { return d_counter.load(); }
    int preamble_len() const override { return d_fmt.preamble_len; }
    int header_repeat() const override { return d_fmt.header_repeat; }
    int guard() const override { return d_fmt.guard; }

    int work(int noutput_items,
             gr_vector_int& ninput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_BURST_FRAMER_IMPL_H */

/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_BURST_DEFRAMER_IMPL_H
#define INCLUDED_INVCSI_BURST_DEFRAMER_IMPL_H

#include <gnuradio/invcsi/burst_deframer.h>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

extern "C" {
#include <invcsi/burst.h>
}

namespace gr {
namespace invcsi {

struct burst_rx_deleter {
    void operator()(invcsi_burst_rx* rx) const { invcsi_burst_rx_destroy(rx); }
};

class burst_deframer_impl : public burst_deframer
{
private:
    struct pending_tag {
        uint64_t offset; // absolute output item
        uint16_t counter;
        long len;
    };

    std::unique_ptr<invcsi_burst_rx, burst_rx_deleter> d_rx;
    mutable std::mutex d_mutex; // d_rx's counters are read from other threads
    invcsi_burst_counters d_last_published;
    long d_max_queue;
    std::deque<uint8_t> d_queue; // decided bits not yet written
    std::deque<pending_tag> d_tags;
    uint64_t d_enqueued; // bits ever queued = output offset of the queue's end
    pmt::pmt_t d_len_key, d_report_key, d_port;

    static void on_report(void* user,
                          uint16_t counter,
                          const uint8_t* bits,
                          long n,
                          long long first_symbol);
    invcsi_burst_counters snapshot() const;
    void publish_if_changed();

public:
    burst_deframer_impl(const invcsi_burst_rx_config& cfg, const std::string& len_tag_key);
    ~burst_deframer_impl() override;

    long long detected() const override { return snapshot().detected; }
    long long headers_ok() const override { return snapshot().header_ok; }
    long long headers_bad() const override { return snapshot().header_bad; }
    long long truncated() const override { return snapshot().truncated; }
    long long reports() const override { return snapshot().reports; }
    long long missing() const override { return snapshot().missing; }
    long long last_counter() const override { return snapshot().last_counter; }
    long long symbols() const override { return snapshot().symbols; }

    bool stop() override;
    void forecast(int noutput_items, gr_vector_int& ninput_items_required) override;
    int general_work(int noutput_items,
                     gr_vector_int& ninput_items,
                     gr_vector_const_void_star& input_items,
                     gr_vector_void_star& output_items) override;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_BURST_DEFRAMER_IMPL_H */

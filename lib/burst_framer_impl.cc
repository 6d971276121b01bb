/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A thin shell around the C core's burst format (burst.h): invcsi_burst_frame.
 */

#include "burst_framer_impl.h"
#include <gnuradio/io_signature.h>
#include <stdexcept>
#include <string>

namespace gr {
namespace invcsi {

namespace {

invcsi_burst_format checked_format(const char* who, int preamble_len, int header_repeat, int guard)
{
    invcsi_burst_format f;
    f.preamble_len = preamble_len;
    f.header_repeat = header_repeat;
    f.guard = guard;
    invcsi_error err;
    invcsi_error_clear(&err);
    if (invcsi_burst_format_check(&f, &err) != INVCSI_OK)
        throw std::invalid_argument(std::string("invcsi ") + who + ": " + err.msg);
    return f;
}

} // namespace

burst_framer::sptr burst_framer::make(const std::string& len_tag_key,
                                      int preamble_len,
                                      int header_repeat,
                                      int guard,
                                      int first_counter,
                                      bool burst_tags)
{
    if (len_tag_key.empty())
        throw std::invalid_argument("invcsi burst_framer: len_tag_key must not be empty "
                                    "(the input is a tagged stream of one report per packet)");
    if (first_counter < 0 || first_counter > 65535)
        throw std::invalid_argument("invcsi burst_framer: first_counter must be in 0..65535, got " +
                                    std::to_string(first_counter));
    return gnuradio::make_block_sptr<burst_framer_impl>(
        len_tag_key,
        checked_format("burst_framer", preamble_len, header_repeat, guard),
        first_counter,
        burst_tags);
}

std::vector<float> burst_framer::preamble(int preamble_len)
{
    std::vector<float> chips(preamble_len > 0 ? preamble_len : 0);
    invcsi_error err;
    invcsi_error_clear(&err);
    if (invcsi_burst_preamble(chips.data(), preamble_len, &err) != INVCSI_OK)
        throw std::invalid_argument(std::string("invcsi burst_framer: ") + err.msg);
    return chips;
}

long burst_framer::burst_symbols(long payload_bits, int preamble_len, int header_repeat, int guard)
{
    invcsi_burst_format f = checked_format("burst_framer", preamble_len, header_repeat, guard);
    if (payload_bits < 1 || payload_bits > INVCSI_BURST_MAX_PAYLOAD)
        throw std::invalid_argument("invcsi burst_framer: payload_bits must be in 1..65535, got " +
                                    std::to_string(payload_bits));
    return invcsi_burst_symbols(&f, payload_bits);
}

burst_framer_impl::burst_framer_impl(const std::string& len_tag_key,
                                     const invcsi_burst_format& fmt,
                                     int first_counter,
                                     bool burst_tags)
    : gr::tagged_stream_block("burst_framer",
                              gr::io_signature::make(1, 1, sizeof(uint8_t)),
                              gr::io_signature::make(1, 1, sizeof(gr_complex)),
                              len_tag_key),
      d_fmt(fmt),
      d_burst_tags(burst_tags),
      d_bursts(0),
      d_counter(first_counter),
      d_report_key(pmt::intern("report")),
      d_sob_key(pmt::intern("tx_sob")),
      d_eob_key(pmt::intern("tx_eob"))
{
    // Only the output length tag (added by tagged_stream_block) and the tags below.
    set_tag_propagation_policy(TPP_DONT);
    d_logger->debug("preamble {} chips, header x{}, guard {} symbols",
                    fmt.preamble_len,
                    fmt.header_repeat,
                    fmt.guard);
}

burst_framer_impl::~burst_framer_impl() {}

int burst_framer_impl::calculate_output_stream_length(const gr_vector_int& ninput_items)
{
    return (int)invcsi_burst_symbols(&d_fmt, ninput_items[0]);
}

int burst_framer_impl::work(int noutput_items,
                            gr_vector_int& ninput_items,
                            gr_vector_const_void_star& input_items,
                            gr_vector_void_star& output_items)
{
    const long n = ninput_items[0];
    if (n < 1 || n > INVCSI_BURST_MAX_PAYLOAD) {
        d_logger->error("dropping a packet of {} bits: a burst carries 1..65535", n);
        return 0;
    }
    const long total = invcsi_burst_symbols(&d_fmt, n);
    if (total > noutput_items) // cannot happen: the scheduler asked for this length
        return 0;
    const uint16_t counter = (uint16_t)d_counter.load();
    invcsi_error err;
    invcsi_error_clear(&err);
    if (invcsi_burst_frame(reinterpret_cast<float*>(output_items[0]),
                           &d_fmt,
                           counter,
                           reinterpret_cast<const uint8_t*>(input_items[0]),
                           n,
                           &err) != INVCSI_OK) {
        d_logger->error("{}", err.msg);
        return 0;
    }
    const uint64_t first = nitems_written(0);
    add_item_tag(0, first, d_report_key, pmt::from_long(counter));
    if (d_burst_tags) {
        add_item_tag(0, first, d_sob_key, pmt::PMT_T);
        add_item_tag(0, first + total - 1, d_eob_key, pmt::PMT_T);
    }
    d_counter.store((counter + 1) & 0xFFFF);
    d_bursts++;
    return (int)total;
}

} /* namespace invcsi */
} /* namespace gr */

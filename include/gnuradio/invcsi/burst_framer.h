/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_BURST_FRAMER_H
#define INCLUDED_INVCSI_BURST_FRAMER_H

#include <gnuradio/invcsi/api.h>
#include <gnuradio/tagged_stream_block.h>
#include <string>
#include <vector>

namespace gr {
namespace invcsi {

/*!
 * \brief Over-the-air transmitter framing: one report's payload bits in, one BPSK burst out.
 * \ingroup invcsi
 *
 * \details
 * Input: a tagged stream of unpacked bits (one per byte, the byte's LSB), one packet per
 * report (e.g. invcsi.daq_quantizer with len_tag_key set). Output: one burst of complex
 * BPSK symbols per packet (C core burst.h):
 * [guard zeros][preamble: L m-sequence chips][header x R][payload bits][guard zeros],
 * bit b -> 1 - 2b. The header holds a 16-bit report counter (first_counter, then +1 per
 * burst, wrapping at 65536), the 16-bit payload length and a CRC-16 of both; it is sent
 * header_repeat times. The output packet is tagged with len_tag_key = its length in
 * symbols (for an interpolating pulse shaper follow with
 * blocks.tagged_stream_multiply_length), and with "report" = the counter. With
 * burst_tags, also tx_sob on the first and tx_eob on the last symbol (for a USRP sink
 * WITHOUT a length tag name: uhd_usrp_sink ignores them when it has one).
 */
class INVCSI_API burst_framer : virtual public gr::tagged_stream_block
{
public:
    typedef std::shared_ptr<burst_framer> sptr;

    /*!
     * \param len_tag_key length tag key of input and output packets
     * \param preamble_len L: 31, 63 or 127
     * \param header_repeat R: 1..16
     * \param guard zero symbols before and after each burst: 0..4096
     * \param first_counter counter of the first burst: 0..65535
     * \param burst_tags add tx_sob / tx_eob tags
     * \throws std::invalid_argument for a bad parameter
     */
    static sptr make(const std::string& len_tag_key = "packet_len",
                     int preamble_len = 63,
                     int header_repeat = 3,
                     int guard = 16,
                     int first_counter = 0,
                     bool burst_tags = false);

    //! Bursts sent so far.
    virtual long long bursts() const = 0;
    //! Counter of the next burst.
    virtual int next_counter() const = 0;
    virtual int preamble_len() const = 0;
    virtual int header_repeat() const = 0;
    virtual int guard() const = 0;

    //! The L preamble chips (+-1) of the burst format.
    static std::vector<float> preamble(int preamble_len = 63);
    //! Symbols per burst for a payload of payload_bits bits.
    static long burst_symbols(long payload_bits,
                              int preamble_len = 63,
                              int header_repeat = 3,
                              int guard = 16);
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_BURST_FRAMER_H */

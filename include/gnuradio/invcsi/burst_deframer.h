/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_BURST_DEFRAMER_H
#define INCLUDED_INVCSI_BURST_DEFRAMER_H

#include <gnuradio/block.h>
#include <gnuradio/invcsi/api.h>
#include <string>

namespace gr {
namespace invcsi {

/*!
 * \brief Over-the-air receiver back end: symbol-spaced samples in, good reports' bits out.
 * \ingroup invcsi
 *
 * \details
 * Input: complex samples at one per symbol (after matched filter and timing recovery, e.g.
 * digital.pfb_clock_sync_ccf, and optionally digital.costas_loop_cc). The C core's burst
 * receiver (burst.h) finds each preamble (energy-normalised correlator, robust to a
 * residual carrier offset), estimates amplitude, phase (the known preamble resolves BPSK's
 * phase ambiguity) and frequency from it, tracks the phase over header and payload with a
 * decision-directed PLL of bandwidth loop_bw, soft-combines the R header copies and checks
 * the CRC. Output: the hard-decided payload bits (one per byte, bit = 1 for a negative
 * symbol) of every burst whose header is good and whose payload is complete, the first
 * bit tagged with len_tag_key = payload length and "report" = the 16-bit counter.
 * Bursts with a corrupt header (CRC, or a length other than payload_bits) or a truncated
 * payload are dropped and counted; nothing is output for them, so a downstream
 * invcsi.inn_ic_decoder decodes exactly the reports received. Reports never received show
 * as gaps in the counter sequence (missing()). Counters: getters, and a dict on the
 * message port "counters" after every burst event.
 */
class INVCSI_API burst_deframer : virtual public gr::block
{
public:
    typedef std::shared_ptr<burst_deframer> sptr;

    /*!
     * \param payload_bits expected payload length (B*M); 0 = any length 1..65535
     * \param preamble_len L: 31, 63 or 127 (as the transmitter)
     * \param header_repeat R: 1..16 (as the transmitter)
     * \param threshold preamble detection threshold in (0, 1) (metric 1 = noiseless)
     * \param loop_bw normalised bandwidth of the phase-tracking loop, [0, 0.2]
     * \param len_tag_key key of the per-report length tag ("" = none)
     * \throws std::invalid_argument for a bad parameter
     */
    static sptr make(int payload_bits = 0,
                     int preamble_len = 63,
                     int header_repeat = 3,
                     float threshold = 0.35f,
                     float loop_bw = 0.01f,
                     const std::string& len_tag_key = "packet_len");

    //! Preamble detections (bursts and false alarms).
    virtual long long detected() const = 0;
    //! Headers that passed the CRC and length checks.
    virtual long long headers_ok() const = 0;
    //! Headers dropped (CRC or length).
    virtual long long headers_bad() const = 0;
    //! Bursts dropped because the header or payload was cut off.
    virtual long long truncated() const = 0;
    //! Reports delivered.
    virtual long long reports() const = 0;
    //! Reports lost between delivered ones (gaps in the counter sequence).
    virtual long long missing() const = 0;
    //! Counter of the last delivered report (-1 before the first).
    virtual long long last_counter() const = 0;
    //! Symbols consumed.
    virtual long long symbols() const = 0;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_BURST_DEFRAMER_H */

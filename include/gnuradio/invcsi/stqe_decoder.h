/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_STQE_DECODER_H
#define INCLUDED_INVCSI_STQE_DECODER_H

#include <gnuradio/block.h>
#include <gnuradio/invcsi/api.h>
#include <cstdint>
#include <map>
#include <string>

namespace gr {
namespace invcsi {

/*!
 * \brief BS-side STQENet decoder: coded-report PDU in, reconstructed CSI out.
 * \ingroup invcsi
 *
 * \details
 * Input: PDUs on the message port "pdus", (meta, u8vector) as invcsi.stqe_encoder makes
 * them (after the link: e.g. pdu.tagged_stream_to_pdu). Output: CSI reports, nr * nt * nc
 * gr_complex values laid out [r][t][k] (the layout of invcsi.inn_ic_decoder's output,
 * comparable with the source's H in invcsi.nmse_probe).
 *
 * Every PDU is checked by the C core (invcsi_stqenet_decode_report_fault: length prefix,
 * CRC-32, rANS consistency) before it is decoded. A PDU that fails a check is dropped and
 * counted (never decoded into garbage); what the output then carries is \p on_drop:
 *   "zeros": an all-zero report, so the output stays one report per PDU (a lost report
 *            counts as a reconstruction of zeros, NMSE 0 dB, in nmse_probe);
 *   "hold":  the last report decoded (zeros before the first one), as a BS that keeps
 *            its previous CSI;
 *   "skip":  nothing.
 * Reports emitted for a dropped PDU carry the stream tag "stqe_dropped" (value: the
 * fault's name, e.g. "crc mismatch"). A message that is not a PDU of bytes is counted
 * as received and dropped (fault "not a pdu").
 *
 * Decoding runs in the block's thread: the core's rANS decoder, inverse mu-law, the
 * decoder network, then the stored scale is undone and the inverse 2D DFT gives H^.
 */
class INVCSI_API stqe_decoder : virtual public gr::block
{
public:
    typedef std::shared_ptr<stqe_decoder> sptr;

    /*!
     * \param weights STQENet weights file (the encoder's: both ends need the same tables)
     * \param on_drop output for a dropped report: "zeros", "hold" or "skip"
     * \throws std::invalid_argument for a bad parameter
     * \throws std::runtime_error for a missing or corrupt file, or weights of another
     *         model kind
     */
    static sptr make(const std::string& weights, const std::string& on_drop = "zeros");

    virtual int nr() const = 0;
    virtual int nt() const = 0;
    virtual int nc() const = 0;
    //! Complex values per output report: nr * nt * nc.
    virtual int vlen() const = 0;
    virtual int m() const = 0;
    virtual int bits() const = 0;
    virtual std::string on_drop() const = 0;

    //! PDUs taken from the port since construction (= decoded + dropped).
    virtual uint64_t received() const = 0;
    //! PDUs that passed every check and were decoded.
    virtual uint64_t decoded() const = 0;
    //! PDUs dropped (failed a check, or not a PDU of bytes).
    virtual uint64_t dropped() const = 0;
    //! Dropped PDUs by fault name ("too short", "truncated", "bad length",
    //! "crc mismatch", "bad stream", "not a pdu"); faults never seen are absent.
    virtual std::map<std::string, uint64_t> drop_faults() const = 0;
    //! Reports written to the output (decoded, plus the zeros/held ones).
    virtual uint64_t reports_out() const = 0;
    //! Zero the counters (received, decoded, dropped, faults, reports_out).
    virtual void reset_counters() = 0;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_STQE_DECODER_H */

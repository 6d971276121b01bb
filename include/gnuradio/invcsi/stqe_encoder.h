/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_STQE_ENCODER_H
#define INCLUDED_INVCSI_STQE_ENCODER_H

#include <gnuradio/invcsi/api.h>
#include <gnuradio/sync_block.h>
#include <cstdint>
#include <string>

namespace gr {
namespace invcsi {

/*!
 * \brief UE-side STQENet encoder: CSI report in, one coded-report PDU out.
 * \ingroup invcsi
 *
 * \details
 * Input: one CSI report per item, nr * nt * nc gr_complex values laid out [r][t][k]
 * (as invcsi.csi_source emits them; the same input as invcsi.inn_encoder).
 * Output: for every report one PDU on the message port "pdus": (meta, u8vector), the
 * bytes being the report as it goes over the link (include/invcsi/report_codec.h):
 * a 16-bit little-endian payload length, the rANS stream of the report's M symbols and
 * a CRC-32 of both. Its length varies from report to report. meta is a dictionary
 * {report: index since construction, coded_bits: 8 x rANS bytes}.
 *
 * The C core does all of it: the unitary 2D DFT and the data-set scale stored with the
 * weights (as inn_encoder), then invcsi_stqenet_encode_report (encoder network,
 * tanh + mu-law compander, rounding to B-bit symbols, rANS with the weights' 16-bit
 * tables, framing).
 */
class INVCSI_API stqe_encoder : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<stqe_encoder> sptr;

    /*!
     * \brief Make an encoder.
     *
     * \param weights STQENet weights file (safetensors, kind "stqenet") from invcsi-train
     * \throws std::invalid_argument for an empty weights path
     * \throws std::runtime_error for a missing or corrupt file, or weights of another
     *         model kind
     */
    static sptr make(const std::string& weights);

    virtual int nr() const = 0;
    virtual int nt() const = 0;
    virtual int nc() const = 0;
    //! Complex values per input report: nr * nt * nc.
    virtual int vlen() const = 0;
    //! Latent symbols per report (M).
    virtual int m() const = 0;
    //! Bits per symbol (B): symbols are in 0 .. 2^B - 1.
    virtual int bits() const = 0;
    //! Largest PDU a report can take, in bytes.
    virtual int max_pdu_bytes() const = 0;
    //! Data-set normalisation stored with the weights (x = scale * DFT(H)).
    virtual double norm_scale() const = 0;

    //! Reports encoded (PDUs published) since construction.
    virtual uint64_t reports() const = 0;
    //! Sum of the PDU sizes in bytes (framing included) since construction.
    virtual uint64_t pdu_bytes() const = 0;
    //! Mean PDU size in bits (8 x pdu_bytes / reports; 0 before the first report).
    virtual double mean_pdu_bits() const = 0;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_STQE_ENCODER_H */

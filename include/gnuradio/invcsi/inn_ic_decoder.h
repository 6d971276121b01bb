/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_INN_IC_DECODER_H
#define INCLUDED_INVCSI_INN_IC_DECODER_H

#include <gnuradio/invcsi/api.h>
#include <gnuradio/sync_decimator.h>
#include <cstdint>
#include <string>

namespace gr {
namespace invcsi {

/*!
 * \brief BS-side decoder: received bits (or LLRs) in, reconstructed CSI out.
 * \ingroup invcsi
 *
 * \details
 * Input: B * M items per report: unpacked bits (one per byte, as invcsi.bpsk_demapper
 * makes them) or, with \p soft_input, float LLRs (positive = bit 0). Output: one CSI
 * report per B * M input items, nr * nt * nc gr_complex values laid out [r][t][k],
 * comparable with the source's H (invcsi.nmse_probe).
 *
 * The C core's real-bit link (linkeval.h) does everything: bits -> indices -> levels
 * (the DAQ's level table for InvCSINet weights; the uniform quantizer on
 * [-range, range] for others), the IC (InvCSINet), the inverse INN (or the model's
 * decoder) with the auxiliary variable z at its prior mean (\p z_mode "mean", the
 * default) or a sample (\p z_mode "sample": report r, counted from 0 since
 * construction, draws from the RNG stream of \p seed that the core's link gives its
 * report r, so invcsi-eval's samples are reproduced report for report),
 * then the stored scale is undone and the inverse 2D DFT gives H^.
 * With \p soft_input the latent values are the MMSE estimates E[c_j | LLRs] instead of
 * the levels of the hard decisions.
 */
class INVCSI_API inn_ic_decoder : virtual public gr::sync_decimator
{
public:
    typedef std::shared_ptr<inn_ic_decoder> sptr;

    /*!
     * \param weights weights file (safetensors) from invcsi-train
     * \param z_mode "mean" (z = prior mean) or "sample" (seeded sample)
     * \param seed seed of the z samples
     * \param soft_input false: bytes with bits; true: float LLRs
     * \param bits B; 0 = the weights' DAQ (InvCSINet); 1..8 for models without a DAQ
     * \param range R > 0 of the uniform quantizer (models without a DAQ)
     * \param mapping "natural" or "gray" index labels (models without a DAQ)
     * \param batch reports per core call (>= 1)
     * \param device compute backend: "cpu", "cuda" or "auto" (as inn_encoder's)
     * \throws std::invalid_argument for a bad parameter
     * \throws std::runtime_error for a missing, corrupt or unsupported weights file
     */
    static sptr make(const std::string& weights,
                     const std::string& z_mode = "mean",
                     uint64_t seed = 1,
                     bool soft_input = false,
                     int bits = 0,
                     float range = 1.0f,
                     const std::string& mapping = "natural",
                     int batch = 64,
                     const std::string& device = "cpu");

    virtual std::string kind() const = 0;
    virtual bool learned() const = 0;
    virtual int nr() const = 0;
    virtual int nt() const = 0;
    virtual int nc() const = 0;
    //! Complex values per output report: nr * nt * nc.
    virtual int vlen() const = 0;
    virtual int m() const = 0;
    virtual int bits() const = 0;
    //! Input items per report: B * M.
    virtual int payload_bits() const = 0;
    virtual std::string mapping() const = 0;
    virtual std::string z_mode() const = 0;
    //! Backend the block computes on ("cpu").
    virtual std::string device() const = 0;
    virtual bool soft_input() const = 0;
    //! Reports decoded since construction (the next report's z stream index).
    virtual uint64_t reports_decoded() const = 0;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_INN_IC_DECODER_H */

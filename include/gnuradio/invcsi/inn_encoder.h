/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_INN_ENCODER_H
#define INCLUDED_INVCSI_INN_ENCODER_H

#include <gnuradio/invcsi/api.h>
#include <gnuradio/sync_block.h>
#include <string>

namespace gr {
namespace invcsi {

/*!
 * \brief UE-side CSI encoder: CSI report in, latent y out (any model kind).
 * \ingroup invcsi
 *
 * \details
 * Input: one CSI report per item, nr * nt * nc gr_complex values laid out [r][t][k]
 * (as invcsi.csi_source emits them). Output: the latent y of the report, M floats.
 * The sizes come from the weights file (a safetensors file written by invcsi-train).
 *
 * The C core does all of it: the unitary 2D DFT to the angular-delay domain, the
 * data-set scale stored with the weights, and the model's encoder (the INN forward
 * pass for "inn" and "invcsinet" weights, the CsiNet encoder for "csinet"), batched
 * over up to \p batch reports per call.
 */
class INVCSI_API inn_encoder : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<inn_encoder> sptr;

    /*!
     * \brief Make an encoder.
     *
     * \param weights weights file (safetensors) from invcsi-train
     * \param batch reports per core call (>= 1); buffers are sized for it once
     * \param device compute backend: "cpu", "cuda" or "auto" (as the programs' --device;
     *        "cuda" is an error in this version, whose models run on the CPU only, and
     *        "auto" falls back to the CPU and logs why)
     * \throws std::invalid_argument for a bad parameter
     * \throws std::runtime_error for a missing, corrupt or unsupported weights file
     */
    static sptr make(const std::string& weights,
                     int batch = 64,
                     const std::string& device = "cpu");

    //! Model kind of the weights ("inn", "csinet", "invcsinet", ...).
    virtual std::string kind() const = 0;
    virtual int nr() const = 0;
    virtual int nt() const = 0;
    virtual int nc() const = 0;
    //! Complex values per input report: nr * nt * nc.
    virtual int vlen() const = 0;
    //! Latent values per report (output vector length).
    virtual int m() const = 0;
    //! Data-set normalisation stored with the weights (x = scale * DFT(H)).
    virtual double norm_scale() const = 0;
    virtual int batch() const = 0;
    //! Backend the block computes on ("cpu").
    virtual std::string device() const = 0;
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_INN_ENCODER_H */

/* -*- c++ -*- */
/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_INVCSI_WEIGHTS_INFO_H
#define INCLUDED_INVCSI_WEIGHTS_INFO_H

#include <gnuradio/invcsi/api.h>
#include <string>

namespace gr {
namespace invcsi {

/*!
 * \brief What a weights file describes: the sizes the blocks take from it.
 * \ingroup invcsi
 *
 * \details
 * GRC sizes the ports of invcsi.inn_encoder and invcsi.inn_ic_decoder from it
 * (invcsi.weights_info.read(path).vlen, .m), so a flowgraph follows its weights file.
 * read() loads the file with the C core (invcsi_model_load), so it also checks it.
 */
struct INVCSI_API weights_info {
    std::string path;
    std::string kind; //!< "inn", "csinet", "invcsinet", ...
    int nr = 0, nt = 0, nc = 0;
    int vlen = 0; //!< complex values per CSI report: nr * nt * nc
    int dim = 0;  //!< real values per preprocessed report: 2 * vlen
    int m = 0;    //!< latent values per report
    int bits = 0; //!< B of the learned DAQ (InvCSINet); 0 for weights without one
    std::string mapping; //!< labels of the learned DAQ ("natural", "gray"); "" without
    int payload_bits = 0; //!< bits * m (0 without a learned DAQ)
    double norm_scale = 0.0; //!< data-set scale stored with the weights

    /*!
     * \throws std::invalid_argument for an empty path
     * \throws std::runtime_error for a missing, corrupt or unsupported file
     */
    static weights_info read(const std::string& path);
};

} // namespace invcsi
} // namespace gr

#endif /* INCLUDED_INVCSI_WEIGHTS_INFO_H */

/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The extension module gnuradio.invcsi.invcsi_python. Bindings are written by hand
 * (no bindtool header hashes to keep in sync): one bind_<block>() per block, each in
 * <block>_python.cc, all called here.
 */

#include <pybind11/pybind11.h>

namespace py = pybind11;

// Headers for binding functions
/**************************************/
void bind_nmse_probe(py::module& m);
void bind_csi_source(py::module& m);
void bind_inn_encoder(py::module& m);
void bind_bpsk_bit_mapper(py::module& m);
void bind_bpsk_demapper(py::module& m);
void bind_daq_quantizer(py::module& m);
void bind_inn_ic_decoder(py::module& m);
void bind_weights_info(py::module& m);
void bind_burst_framer(py::module& m);
void bind_burst_deframer(py::module& m);
void bind_stqe_encoder(py::module& m);
void bind_stqe_decoder(py::module& m);
/**************************************/

PYBIND11_MODULE(invcsi_python, m)
{
    m.doc() = "gr-invcsi blocks: deep-learning CSI feedback (InvCSINet) for GNU Radio";

    // Registers gr::sync_block, gr::block, gr::basic_block, which the blocks derive from.
    py::module::import("gnuradio.gr");

    /**************************************/
    // The following comment block is used for
    // gr_modtool to insert binding function calls
    // Please do not delete
    /**************************************/
    // BINDING_FUNCTION_CALLS(
    bind_nmse_probe(m);
    bind_csi_source(m);
    bind_inn_encoder(m);
    bind_bpsk_bit_mapper(m);
    bind_bpsk_demapper(m);
    bind_daq_quantizer(m);
    bind_inn_ic_decoder(m);
    bind_weights_info(m);
    bind_burst_framer(m);
    bind_burst_deframer(m);
    bind_stqe_encoder(m);
    bind_stqe_decoder(m);
    // ) END BINDING_FUNCTION_CALLS
}

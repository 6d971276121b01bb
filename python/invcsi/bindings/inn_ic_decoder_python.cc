/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Hand-written pybind11 binding of gr::invcsi::inn_ic_decoder
 * (include/gnuradio/invcsi/inn_ic_decoder.h). Keep in step with that header.
 */

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

#include <gnuradio/invcsi/inn_ic_decoder.h>

void bind_inn_ic_decoder(py::module& m)
{
    using inn_ic_decoder = ::gr::invcsi::inn_ic_decoder;

    py::class_<inn_ic_decoder,
               gr::sync_decimator,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<inn_ic_decoder>>(
        m,
        "inn_ic_decoder",
        "BS-side decoder: B*M received bits (bytes) or LLRs (floats, soft_input=True) per\n"
        "report in, reconstructed CSI (nr*nt*nc complex, [r][t][k]) out. The core's link:\n"
        "bits -> indices -> levels (learned DAQ for InvCSINet weights, else the uniform\n"
        "quantizer on [-range, range]) -> IC -> inverse INN (or the model's decoder) with\n"
        "z at its prior mean (z_mode='mean') or a seeded sample ('sample') -> undo the scale\n"
        "-> inverse DFT. Raises ValueError for a bad parameter and RuntimeError for a bad\n"
        "weights file.")

        .def(py::init(&inn_ic_decoder::make),
             py::arg("weights"),
             py::arg("z_mode") = "mean",
             py::arg("seed") = 1,
             py::arg("soft_input") = false,
             py::arg("bits") = 0,
             py::arg("range") = 1.0f,
             py::arg("mapping") = "natural",
             py::arg("batch") = 64,
             py::arg("device") = "cpu",
             "inn_ic_decoder(weights, z_mode='mean', seed=1, soft_input=False, bits=0,\n"
             "               range=1.0, mapping='natural', batch=64, device='cpu')")

        .def("kind", &inn_ic_decoder::kind, "Model kind of the weights.")
        .def("learned", &inn_ic_decoder::learned, "True: the weights' DAQ; False: uniform.")
        .def("nr", &inn_ic_decoder::nr, "Receive (UE) antennas.")
        .def("nt", &inn_ic_decoder::nt, "Transmit (BS) antennas.")
        .def("nc", &inn_ic_decoder::nc, "Subcarriers.")
        .def("vlen", &inn_ic_decoder::vlen, "Complex values per output report (nr*nt*nc).")
        .def("m", &inn_ic_decoder::m, "Latent values per report.")
        .def("bits", &inn_ic_decoder::bits, "Bits per latent value (B).")
        .def("payload_bits", &inn_ic_decoder::payload_bits, "Input items per report (B*M).")
        .def("device", &inn_ic_decoder::device, "Backend the block computes on.")
        .def("mapping", &inn_ic_decoder::mapping, "Label mapping: 'natural' or 'gray'.")
        .def("z_mode", &inn_ic_decoder::z_mode, "'mean' or 'sample'.")
        .def("soft_input", &inn_ic_decoder::soft_input, "True when the input is LLRs.")
        .def("reports_decoded",
             &inn_ic_decoder::reports_decoded,
             "Reports decoded since construction.");
}

/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Hand-written pybind11 binding of gr::invcsi::daq_quantizer
 * (include/gnuradio/invcsi/daq_quantizer.h). Keep in step with that header.
 */

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

#include <gnuradio/invcsi/daq_quantizer.h>

void bind_daq_quantizer(py::module& m)
{
    using daq_quantizer = ::gr::invcsi::daq_quantizer;

    py::class_<daq_quantizer,
               gr::sync_interpolator,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<daq_quantizer>>(
        m,
        "daq_quantizer",
        "UE-side quantizer: latent y (M floats) in, B*M unpacked bits (one per byte) out,\n"
        "index labels MSB first. InvCSINet weights: their learned DAQ, B and mapping\n"
        "(bits must be 0 or that B). Weights without a DAQ: the uniform B-bit quantizer\n"
        "on [-range, range] (bits 1..8) with the given mapping. len_tag_key (not empty)\n"
        "tags the first bit of every report with the report length B*M. Raises\n"
        "ValueError for a bad parameter and RuntimeError for a bad weights file.")

        .def(py::init(&daq_quantizer::make),
             py::arg("weights"),
             py::arg("bits") = 0,
             py::arg("range") = 1.0f,
             py::arg("mapping") = "natural",
             py::arg("batch") = 64,
             py::arg("len_tag_key") = "",
             "daq_quantizer(weights, bits=0, range=1.0, mapping='natural', batch=64,\n"
             "              len_tag_key='')")

        .def("kind", &daq_quantizer::kind, "Model kind of the weights.")
        .def("learned", &daq_quantizer::learned, "True: the weights' DAQ; False: uniform.")
        .def("m", &daq_quantizer::m, "Latent values per report.")
        .def("bits", &daq_quantizer::bits, "Bits per latent value (B).")
        .def("payload_bits", &daq_quantizer::payload_bits, "Bits per report (B*M).")
        .def("mapping", &daq_quantizer::mapping, "Label mapping: 'natural' or 'gray'.")
        .def("range", &daq_quantizer::range, "Range R of the uniform quantizer (0: DAQ).");
}

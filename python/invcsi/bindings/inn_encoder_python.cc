/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Hand-written pybind11 binding of gr::invcsi::inn_encoder
 * (include/gnuradio/invcsi/inn_encoder.h). Keep in step with that header.
 */

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

#include <gnuradio/invcsi/inn_encoder.h>

void bind_inn_encoder(py::module& m)
{
    using inn_encoder = ::gr::invcsi::inn_encoder;

    py::class_<inn_encoder,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<inn_encoder>>(
        m,
        "inn_encoder",
        "UE-side CSI encoder: CSI report (nr*nt*nc complex, [r][t][k]) in, latent y\n"
        "(M floats) out. Sizes come from the weights file; the C core applies the 2D DFT,\n"
        "the stored data-set scale and the model's encoder (inn, csinet, invcsinet).\n"
        "Raises ValueError for a bad parameter and RuntimeError for a missing, corrupt\n"
        "or unsupported weights file.")

        .def(py::init(&inn_encoder::make),
             py::arg("weights"),
             py::arg("batch") = 64,
             py::arg("device") = "cpu",
             "inn_encoder(weights, batch=64, device='cpu'); device: 'cpu', 'cuda' or 'auto'\n"
             "('cuda' raises RuntimeError in this version: the models run on the CPU only;\n"
             "'auto' falls back to the CPU and logs why)")

        .def("kind", &inn_encoder::kind, "Model kind of the weights.")
        .def("nr", &inn_encoder::nr, "Receive (UE) antennas.")
        .def("nt", &inn_encoder::nt, "Transmit (BS) antennas.")
        .def("nc", &inn_encoder::nc, "Subcarriers.")
        .def("vlen", &inn_encoder::vlen, "Complex values per input report (nr*nt*nc).")
        .def("m", &inn_encoder::m, "Latent values per report (output vector length).")
        .def("norm_scale", &inn_encoder::norm_scale, "Data-set scale stored with the weights.")
        .def("batch", &inn_encoder::batch, "Reports per core call.")
        .def("device", &inn_encoder::device, "Backend the block computes on.");
}

/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Hand-written pybind11 binding of gr::invcsi::weights_info
 * (include/gnuradio/invcsi/weights_info.h). Keep in step with that header.
 */

#include <pybind11/pybind11.h>

namespace py = pybind11;

#include <gnuradio/invcsi/weights_info.h>

void bind_weights_info(py::module& m)
{
    using weights_info = ::gr::invcsi::weights_info;

    py::class_<weights_info>(m,
                             "weights_info",
                             "Sizes of a weights file: weights_info.read(path) -> kind, nr, "
                             "nt, nc,\nvlen (nr*nt*nc), dim, m, bits and mapping of a learned "
                             "DAQ (0, '' without),\npayload_bits, norm_scale. Raises "
                             "RuntimeError for a bad file.")
        .def_static("read", &weights_info::read, py::arg("path"))
        .def_readonly("path", &weights_info::path)
        .def_readonly("kind", &weights_info::kind)
        .def_readonly("nr", &weights_info::nr)
        .def_readonly("nt", &weights_info::nt)
        .def_readonly("nc", &weights_info::nc)
        .def_readonly("vlen", &weights_info::vlen)
        .def_readonly("dim", &weights_info::dim)
        .def_readonly("m", &weights_info::m)
        .def_readonly("bits", &weights_info::bits)
        .def_readonly("mapping", &weights_info::mapping)
        .def_readonly("payload_bits", &weights_info::payload_bits)
        .def_readonly("norm_scale", &weights_info::norm_scale)
        .def("__repr__", [](const weights_info& w) {
            return "weights_info(kind='" + w.kind + "', nr=" + std::to_string(w.nr) +
                   ", nt=" + std::to_string(w.nt) + ", nc=" + std::to_string(w.nc) +
                   ", m=" + std::to_string(w.m) + ", bits=" + std::to_string(w.bits) + ")";
        });
}

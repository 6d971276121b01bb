/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Hand-written pybind11 binding of gr::invcsi::nmse_probe
 * (include/gnuradio/invcsi/nmse_probe.h). Keep in step with that header.
 */

#include <pybind11/pybind11.h>

namespace py = pybind11;

#include <gnuradio/invcsi/nmse_probe.h>

void bind_nmse_probe(py::module& m)
{
    using nmse_probe = ::gr::invcsi::nmse_probe;

    py::class_<nmse_probe,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<nmse_probe>>(
        m,
        "nmse_probe",
        "Running NMSE and cosine similarity rho between two CSI streams (a sink).\n\n"
        "Input 0: reference CSI, input 1: reconstructed CSI; each item is one report of\n"
        "n_ant*nc complex values laid out [r][t][k] (n_ant = nr*nt). Every report_every\n"
        "reports (0 = never) a dict {nmse_db, rho, count} is published on the message\n"
        "port 'metrics'. Raises ValueError for n_ant < 1, nc < 1 or report_every < 0.")

        .def(py::init(&nmse_probe::make),
             py::arg("n_ant"),
             py::arg("nc"),
             py::arg("report_every") = 0,
             "nmse_probe(n_ant, nc, report_every=0)")

        .def("nmse_db", &nmse_probe::nmse_db, "Running mean NMSE in dB.")
        .def("rho", &nmse_probe::rho, "Running mean cosine similarity rho.")
        .def("count", &nmse_probe::count, "Report pairs accumulated since the last reset.")
        .def("reset", &nmse_probe::reset, "Forget every accumulated report.")
        .def("n_ant", &nmse_probe::n_ant, "Antennas per subcarrier (nr*nt).")
        .def("nc", &nmse_probe::nc, "Subcarriers.")
        .def("report_every",
             &nmse_probe::report_every,
             "Reports between two 'metrics' messages (0 = never).")
        .def("set_report_every",
             &nmse_probe::set_report_every,
             py::arg("report_every"),
             "Change the reports between two 'metrics' messages (0 = never).");
}

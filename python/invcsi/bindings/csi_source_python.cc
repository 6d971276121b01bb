/*
 * Copyright 2025 gr-invcsi developers
 *
 * This file is part of gr-invcsi
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Hand-written pybind11 binding of gr::invcsi::csi_source
 * (include/gnuradio/invcsi/csi_source.h). Keep in step with that header.
 */

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;

#include <gnuradio/invcsi/csi_source.h>

void bind_csi_source(py::module& m)
{
    using csi_source = ::gr::invcsi::csi_source;

    py::class_<csi_source,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<csi_source>>(
        m,
        "csi_source",
        "CSI reports from a channel data set (.mat) or the 3GPP CDL generator.\n\n"
        "Each output item is one report: nr*nt*nc complex values laid out [r][t][k]\n"
        "(frequency-domain H, not normalised). source='mat': the reports of path, all of\n"
        "them or the held-out 'test' (or 'train') part of invcsi-train's split\n"
        "(split_seed, train_frac), optionally shuffled every pass (seed). source='cdl':\n"
        "reports drawn live by the CDL generator (cdl_model, seed, nr, nt, nc;\n"
        "cdl_reports per pass, 0 = endless), equal to invcsi-gen's samples. repeat=False\n"
        "ends the stream after one pass. nr, nt, nc = 0: the file's sizes ('mat') or\n"
        "1 x 32 x 32 ('cdl'); given for a file they must match it.\n"
        "Raises ValueError for a bad parameter and\n"
        "RuntimeError when the file cannot be read or the subset is empty.")

        .def(py::init(&csi_source::make),
             py::arg("source") = "mat",
             py::arg("path") = "",
             py::arg("subset") = "all",
             py::arg("split_seed") = 1,
             py::arg("train_frac") = 0.7,
             py::arg("shuffle") = false,
             py::arg("seed") = 1,
             py::arg("repeat") = false,
             py::arg("cdl_model") = "cdl-c",
             py::arg("nr") = 0,
             py::arg("nt") = 0,
             py::arg("nc") = 0,
             py::arg("cdl_reports") = 0,
             "csi_source(source='mat', path='', subset='all', split_seed=1, train_frac=0.7,\n"
             "           shuffle=False, seed=1, repeat=False, cdl_model='cdl-c', nr=0,\n"
             "           nt=0, nc=0, cdl_reports=0)")

        .def("nr", &csi_source::nr, "Receive (UE) antennas.")
        .def("nt", &csi_source::nt, "Transmit (BS) antennas.")
        .def("nc", &csi_source::nc, "Subcarriers.")
        .def("vlen", &csi_source::vlen, "Complex values per report (nr*nt*nc).")
        .def("reports_per_pass",
             &csi_source::reports_per_pass,
             "Reports per pass (0 = endless generator).")
        .def("reports_emitted", &csi_source::reports_emitted, "Reports emitted so far.")
        .def("order",
             &csi_source::order,
             "Source 'mat': data-set indices of the current pass in emission order.");
}

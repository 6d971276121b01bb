#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Every examples/*.grc compiles with grcc (with the source grc/ on GRC_BLOCKS_PATH);
headless (no_gui) ones are also run. nmse_probe_smoke is run and its probe checked."""

import glob
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

import yaml
from gnuradio import gr_unittest

SOURCE_DIR = os.environ.get(
    "INVCSI_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
GRCC = shutil.which("grcc") or "/usr/bin/grcc"
RUN_TIMEOUT = 60  # seconds per flowgraph


def flowgraphs():
    return sorted(glob.glob(os.path.join(SOURCE_DIR, "examples", "*.grc")))


class qa_grc_examples(gr_unittest.TestCase):

    def setUp(self):
        self.out = tempfile.mkdtemp(prefix="invcsi-grcc-")
        self.env = dict(os.environ)
        self.env["GRC_BLOCKS_PATH"] = os.path.join(SOURCE_DIR, "grc")

    def tearDown(self):
        shutil.rmtree(self.out, ignore_errors=True)

    def compile(self, grc):
        r = subprocess.run([sys.executable, GRCC, "-o", self.out, grc], env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=RUN_TIMEOUT)
        self.assertEqual(r.returncode, 0, "grcc %s failed:\n%s" % (grc, r.stdout))
        with open(grc) as f:
            options = yaml.safe_load(f)["options"]["parameters"]
        py = os.path.join(self.out, options["id"] + ".py")
        self.assertTrue(os.path.exists(py), "grcc wrote no %s:\n%s" % (py, r.stdout))
        return py, options

    def test_001_compile_and_run(self):
        for grc in flowgraphs():
            with self.subTest(flowgraph=os.path.basename(grc)):
                py, options = self.compile(grc)
                if options.get("generate_options") != "no_gui" or options.get("run_options") != "run":
                    continue  # needs a display or a key press: compiling is the test
                r = subprocess.run([sys.executable, "-u", py], env=self.env, cwd=self.out,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, timeout=RUN_TIMEOUT)
                self.assertEqual(r.returncode, 0, "%s failed:\n%s" % (py, r.stdout))

    def test_002_smoke_values(self):
        grc = os.path.join(SOURCE_DIR, "examples", "nmse_probe_smoke.grc")
        py, _ = self.compile(grc)
        spec = importlib.util.spec_from_file_location("nmse_probe_smoke", py)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        tb = module.nmse_probe_smoke()
        tb.run()
        probe = tb.invcsi_nmse_probe_0
        self.assertEqual(probe.count(), tb.reports)
        self.assertAlmostEqual(probe.nmse_db(), -20.0, places=4)  # H^ = 0.9 H
        self.assertAlmostEqual(probe.rho(), 1.0, places=5)


if __name__ == '__main__':
    if not flowgraphs():
        print("SKIP: no examples/*.grc flowgraphs to compile")
        sys.exit(77)
    gr_unittest.run(qa_grc_examples)

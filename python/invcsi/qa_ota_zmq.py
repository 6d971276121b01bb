#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of the two-process over-the-air variant: examples/ota_ue_zmq.grc (UE: reports ->
encoder -> DAQ -> burst framer -> RRC -> ZMQ PUSH) and examples/ota_bs_zmq.grc (BS: ZMQ
PULL -> channel_model with CFO, timing offset, three taps and noise -> clock sync -> Costas
-> burst deframer -> decoder), compiled with grcc and run as two processes joined on
loopback TCP. At Eb/N0 = 20 dB the BS receives every report the UE sends."""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from gnuradio import gr_unittest

SOURCE_DIR = os.environ.get(
    "INVCSI_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
GRCC = shutil.which("grcc") or "/usr/bin/grcc"
REPORTS = 20
STATUS = re.compile(r"BS: detected (\d+), headers ok (\d+), bad (\d+), truncated (\d+), "
                    r"reports (\d+), missing (\d+)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Reader:
    """Collects a process's output lines in a thread (so the pipe never fills)."""

    def __init__(self, proc):
        self.lines = []
        self.thread = threading.Thread(target=self.run, args=(proc,), daemon=True)
        self.thread.start()

    def run(self, proc):
        for line in proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def text(self):
        return "\n".join(self.lines)


class qa_ota_zmq(gr_unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="invcsi-qa-zmq-")
        self.env = dict(os.environ, GRC_BLOCKS_PATH=os.path.join(SOURCE_DIR, "grc"),
                        INVCSI_SOURCE_DIR=SOURCE_DIR)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def compile(self, name):
        r = subprocess.run([sys.executable, GRCC, "-o", self.tmp,
                            os.path.join(SOURCE_DIR, "examples", name + ".grc")],
                           env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, "grcc %s failed:\n%s" % (name, r.stdout))
        return os.path.join(self.tmp, name + ".py")

    def start(self, py, *args):
        p = subprocess.Popen([sys.executable, "-u", py] + list(args), env=self.env, cwd=self.tmp,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        self.procs.append(p)
        return p, Reader(p)

    def test_001_ue_to_bs(self):
        ue_py, bs_py = self.compile("ota_ue_zmq"), self.compile("ota_bs_zmq")
        address = "tcp://127.0.0.1:%d" % free_port()
        bs, bs_out = self.start(bs_py, "--address", address, "--snr-db", "20")
        ue, ue_out = self.start(ue_py, "--address", address, "--reports", str(REPORTS))
        deadline = time.time() + 45
        received = 0
        while time.time() < deadline and received < REPORTS:
            time.sleep(0.5)
            found = STATUS.findall(bs_out.text())
            received = int(found[-1][4]) if found else 0
            self.assertIsNone(bs.poll(), "BS exited early:\n" + bs_out.text())
        for p in (ue, bs):  # Enter ends a prompt-mode flowgraph (its Reader keeps stdout)
            try:
                p.stdin.write("\n")
                p.stdin.close()
                p.wait(timeout=20)
            except (subprocess.TimeoutExpired, BrokenPipeError):
                p.kill()
                p.wait()
        bs_out.thread.join(5)
        ue_out.thread.join(5)
        ue_text, bs_text = ue_out.text(), bs_out.text()
        self.assertIn("UE: bursts sent %d" % REPORTS, ue_text, ue_text)
        final = STATUS.findall(bs_text)
        self.assertTrue(final, bs_text)
        detected, ok, bad, truncated, reports, missing = map(int, final[-1])
        self.assertEqual((detected, ok, bad, truncated, reports, missing),
                         (REPORTS, REPORTS, 0, 0, REPORTS, 0), bs_text)
        self.assertRegex(bs_text, r"last counter %d" % (REPORTS - 1))


if __name__ == '__main__':
    gr_unittest.run(qa_ota_zmq)

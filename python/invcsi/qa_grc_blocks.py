#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Every grc/*.block.yml parses, passes GRC's block schema and makes a class that exists
in gnuradio.invcsi; every block class of gnuradio.invcsi has a .block.yml."""

import glob
import os
import re
import sys

import yaml
from gnuradio import gr, gr_unittest

from gnuradio import invcsi

SOURCE_DIR = os.environ.get(
    "INVCSI_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
GRC_DIR = os.path.join(SOURCE_DIR, "grc")


def block_files():
    return sorted(glob.glob(os.path.join(GRC_DIR, "*.block.yml")))


class qa_grc_blocks(gr_unittest.TestCase):

    def test_001_each_yml(self):
        from gnuradio.grc.core.schema_checker import BLOCK_SCHEME, Validator
        files = block_files()
        self.assertTrue(files, "no grc/*.block.yml in " + GRC_DIR)
        for path in files:
            name = os.path.basename(path)
            with self.subTest(file=name):
                with open(path) as f:
                    data = yaml.safe_load(f)
                self.assertIsInstance(data, dict, name + ": not a YAML mapping")

                validator = Validator(BLOCK_SCHEME)
                ok = validator.run(data)
                self.assertTrue(ok and not validator.messages,
                                "%s: GRC schema: %s" % (name, [str(m) for m in validator.messages]))

                self.assertEqual(data["id"] + ".block.yml", name, "id must match the file name")
                self.assertTrue(data["id"].startswith("invcsi_"), name + ": id must start with invcsi_")
                self.assertEqual(data.get("file_format"), 1)
                self.assertTrue(data.get("documentation"), name + ": no documentation")

                templates = data["templates"]
                self.assertIn("from gnuradio import invcsi", templates["imports"])
                m = re.match(r"\s*invcsi\.(\w+)\(", templates["make"])
                self.assertIsNotNone(m, name + ": make does not call invcsi.<class>(...)")
                cls = getattr(invcsi, m.group(1), None)
                self.assertIsInstance(cls, type, "%s: gnuradio.invcsi has no class %s"
                                      % (name, m.group(1)))
                for cb in templates.get("callbacks", []):
                    method = re.match(r"\s*(\w+)\(", cb).group(1)
                    self.assertTrue(hasattr(cls, method), "%s: callback %s is not a method of %s"
                                    % (name, method, cls.__name__))

    def test_002_each_block_has_yml(self):
        made = set()
        for path in block_files():
            with open(path) as f:
                m = re.match(r"\s*invcsi\.(\w+)\(", yaml.safe_load(f)["templates"]["make"])
            if m:
                made.add(m.group(1))
        # C++ blocks (pybind11 classes), Python blocks and Python hier blocks.
        kinds = (gr.gr_python.basic_block, gr.gateway.basic_block, gr.hier_block2)
        blocks = {name for name, obj in vars(invcsi).items()
                  if isinstance(obj, type) and issubclass(obj, kinds)}
        self.assertTrue(blocks, "gnuradio.invcsi has no blocks")
        self.assertEqual(blocks - made, set(), "blocks without a grc/*.block.yml")


if __name__ == '__main__':
    gr_unittest.run(qa_grc_blocks)

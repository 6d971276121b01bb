#!/usr/bin/python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""The InvCSINet CSI feedback link as a GNU Radio flowgraph, at several Eb/N0.

Compiles examples/loopback_awgn.grc with grcc (the headless loopback: CDL-C reports ->
INN encoder -> DAQ -> BPSK -> channel_model AWGN -> demapper -> INN+IC decoder -> NMSE
probe) and runs it once per Eb/N0, printing the reconstruction NMSE and rho of the CSI the
base station recovers and the bit error rate of the feedback bits (measured, and BPSK's
Q(sqrt(2 Eb/N0))).

Report i of every run is sample i of `invcsi-gen --model cdl-c --seed CDL_SEED` with the
weights' sizes, so `invcsi-eval --split all --snr-db ...` on that file gives the same
numbers up to the noise realisation (the flowgraph's noise is channel_model's).

Examples:
  examples/loopback_demo.py --build build
  examples/loopback_demo.py --build build --weights W.safetensors --snr-db -5,0,5,10,20
"""

import argparse
import importlib.util
import math
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--build", default=None,
                   help="build directory to take gnuradio.invcsi from (its test_modules/); "
                        "default: the installed package")
    p.add_argument("--weights",
                   default=os.path.join(HERE, "weights", "invcsinet-cr16-b3.safetensors"),
                   help="weights file [%(default)s]")
    p.add_argument("--snr-db", default="-5,0,5,10,20",
                   help="Eb/N0 values in dB, comma separated [%(default)s]")
    p.add_argument("--reports", type=int, default=500, help="CSI reports per Eb/N0 [%(default)s]")
    p.add_argument("--cdl-seed", type=int, default=1000,
                   help="seed of the CDL-C reports [%(default)s]")
    p.add_argument("--noise-seed", type=int, default=42,
                   help="seed of channel_model's noise [%(default)s]")
    args = p.parse_args()
    try:
        args.snrs = [float(v) for v in args.snr_db.split(",") if v.strip()]
    except ValueError:
        p.error("--snr-db: expected numbers separated by commas, got %r" % args.snr_db)
    if not args.snrs:
        p.error("--snr-db: no values")
    if args.reports < 1:
        p.error("--reports must be >= 1")
    if not os.path.exists(args.weights):
        p.error("weights file %s not found (train one with invcsi-train --model invcsinet)"
                % args.weights)
    return args


def compile_flowgraph(out_dir, env):
    grc = os.path.join(HERE, "loopback_awgn.grc")
    grcc = shutil.which("grcc") or "/usr/bin/grcc"
    r = subprocess.run([sys.executable, grcc, "-o", out_dir, grc], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit("loopback_demo: grcc could not compile %s:\n%s" % (grc, r.stdout))
    spec = importlib.util.spec_from_file_location("loopback_awgn",
                                                  os.path.join(out_dir, "loopback_awgn.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    args = parse_args()
    # The flowgraph looks a relative weights path up in $INVCSI_SOURCE_DIR/examples; grcc
    # reads the default weights to size the ports.
    os.environ.setdefault("INVCSI_SOURCE_DIR", SOURCE_DIR)
    args.weights = os.path.abspath(args.weights)
    env = dict(os.environ)
    if args.build:
        modules = os.path.abspath(os.path.join(args.build, "test_modules"))
        sys.path.insert(0, modules)
        env["PYTHONPATH"] = modules + os.pathsep + env.get("PYTHONPATH", "")
    grc_dir = os.path.join(SOURCE_DIR, "grc")
    if os.path.isdir(grc_dir):  # the source tree's block definitions (not installed yet)
        env["GRC_BLOCKS_PATH"] = grc_dir + os.pathsep + env.get("GRC_BLOCKS_PATH", "")
    from gnuradio import gr, invcsi  # noqa: F401  (after sys.path is set)

    gr.logging().set_default_level(gr.log_levels.warn)  # the blocks' set-up lines
    info = invcsi.weights_info.read(args.weights)
    with tempfile.TemporaryDirectory(prefix="invcsi-demo-") as tmp:
        fg = compile_flowgraph(tmp, env)
        print("InvCSINet loopback over AWGN (GNU Radio flowgraph examples/loopback_awgn.grc)")
        print("weights %s: %s, %d x %d x %d CSI, M = %d latent values x %d bits = %d bits per "
              "report" % (args.weights, info.kind, info.nr, info.nt, info.nc, info.m, info.bits,
                          info.payload_bits))
        print("%d CDL-C reports per Eb/N0 (seed %d), BPSK, hard decisions, z = prior mean\n"
              % (args.reports, args.cdl_seed))
        print("%8s %10s %8s %11s %11s" % ("Eb/N0 dB", "NMSE dB", "rho", "BER", "BER theory"))
        for snr in args.snrs:
            tb = fg.loopback_awgn(weights=args.weights, snr_db=snr, reports=args.reports,
                                  cdl_seed=args.cdl_seed, noise_seed=args.noise_seed)
            tb.run()
            probe = tb.invcsi_nmse_probe_0
            bits = tb.blocks_xor_xx_0.nitems_written(0)
            ber = tb.blocks_probe_signal_x_0.level() / bits if bits else float("nan")
            theory = 0.5 * math.erfc(math.sqrt(10 ** (snr / 10)))
            print("%8.1f %10.3f %8.4f %11.3e %11.3e" % (snr, probe.nmse_db(), probe.rho(), ber,
                                                          theory))
            sys.stdout.flush()


if __name__ == "__main__":
    main()

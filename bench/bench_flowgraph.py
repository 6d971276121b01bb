#!/usr/bin/python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Throughput of the InvCSINet feedback link as a GNU Radio flowgraph.

Runs the full chain for a fixed number of CSI reports,

  csi_source -> head -> inn_encoder -> daq_quantizer -> bpsk_bit_mapper -> delay(3)
    -> channel_model (AWGN) -> bpsk_demapper -> inn_ic_decoder -> nmse_probe (ref: head)

and prints reports/s and each block's work time from GNU Radio's performance counters
(switched on here through GR_CONF_PERFCOUNTERS_ON before gnuradio is imported). Beside it,
the framework cost: the same flowgraph with the three neural blocks replaced by
blocks.copy, so nothing computes CSI but every other block and every buffer is there:

  CSI path: csi_source -> head -> copy (encoder) -> copy (decoder) -> nmse_probe (ref: head)
  bit path: the bits the full run sent (vector_source) -> copy (quantizer) -> mapper
            -> delay(3) -> channel_model -> demapper -> null sink

The reports come from a .mat file held in memory (the source's repeat mode), so data
generation is not timed. Without --data a CDL-C set with the weights' sizes is generated
with invcsi-gen (--apps).

Examples:
  bench/bench_flowgraph.py --build build
  bench/bench_flowgraph.py --build build --weights W.safetensors --reports 5000 --batch 128
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
DEFAULT_WEIGHTS = os.path.join(SOURCE_DIR, "examples", "weights", "invcsinet-cr16-b3.safetensors")


def parse_args():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="The performance counters are GNU Radio's; their work time is wall time spent "
               "inside work() (per block thread), so blocks that wait on OpenMP or BLAS "
               "threads include that wait.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(SOURCE_DIR, "build"),
                   help="build directory: its test_modules/ holds gnuradio.invcsi, apps/ the "
                        "programs [%(default)s]")
    p.add_argument("--weights", default=DEFAULT_WEIGHTS, help="weights file [%(default)s]")
    p.add_argument("--data", help=".mat channel set with the weights' sizes [generated]")
    p.add_argument("--reports", type=int, default=2000, help="CSI reports per run [%(default)s]")
    p.add_argument("--batch", type=int, default=64,
                   help="reports per core call of the neural blocks [%(default)s]")
    p.add_argument("--snr-db", type=float, default=10.0, help="Eb/N0 of the AWGN [%(default)s]")
    p.add_argument("--repeats", type=int, default=3,
                   help="runs of each flowgraph; the fastest is shown [%(default)s]")
    args = p.parse_args()
    if args.reports < 1 or args.batch < 1 or args.repeats < 1:
        p.error("--reports, --batch and --repeats must be >= 1")
    return args


def setup_imports(build):
    # Performance counters are read from the preferences when the runtime starts.
    os.environ["GR_CONF_PERFCOUNTERS_ON"] = "True"
    modules = os.path.join(build, "test_modules")
    if os.path.isdir(modules):
        sys.path.insert(0, modules)
    global gr, blocks, channels, invcsi
    from gnuradio import blocks, channels, gr  # noqa: F401
    from gnuradio import invcsi  # noqa: F401
    gr.logging().set_default_level(gr.log_levels.warn)  # the blocks' set-up lines
    if not gr.prefs().get_bool("PerfCounters", "on", False):
        sys.exit("bench_flowgraph: GNU Radio's performance counters are off "
                 "(GR_CONF_PERFCOUNTERS_ON was not honoured)")


def make_data(args, info, tmp):
    if args.data:
        return args.data
    path = os.path.join(tmp, "bench.mat")
    gen = os.path.join(args.build, "apps", "invcsi-gen")
    subprocess.run([gen, "--model", "cdl-c", "--samples", "500", "--seed", "1000",
                    "--nr", str(info.nr), "--nt", str(info.nt), "--nc", str(info.nc),
                    "--quiet", "-o", path], check=True, stdout=subprocess.DEVNULL)
    return path


def channel(args):
    return channels.channel_model(
        noise_voltage=invcsi.bpsk_bit_mapper.noise_voltage(args.snr_db, 1.0),
        frequency_offset=0.0, epsilon=1.0, taps=[1.0], noise_seed=42, block_tags=False)


def full_chain(args, data, info):
    tb = gr.top_block("full")
    src = invcsi.csi_source("mat", data, repeat=True, nr=info.nr, nt=info.nt, nc=info.nc)
    # One report more than compared: it pushes the last one out of channel_model, whose
    # resampler holds back its last 8 samples.
    head = blocks.head(gr.sizeof_gr_complex * info.vlen, args.reports + 1)
    b = {
        "inn_encoder": invcsi.inn_encoder(args.weights, args.batch),
        "daq_quantizer": invcsi.daq_quantizer(args.weights, batch=args.batch),
        "bpsk_bit_mapper": invcsi.bpsk_bit_mapper(1.0),
        "delay": blocks.delay(gr.sizeof_gr_complex, 3),
        "channel_model": channel(args),
        "bpsk_demapper": invcsi.bpsk_demapper(),
        "inn_ic_decoder": invcsi.inn_ic_decoder(args.weights, batch=args.batch),
        "nmse_probe": invcsi.nmse_probe(info.nr * info.nt, info.nc),
    }
    bits = blocks.vector_sink_b()
    tb.connect(src, head, b["inn_encoder"], b["daq_quantizer"], b["bpsk_bit_mapper"],
               b["delay"], b["channel_model"], b["bpsk_demapper"], b["inn_ic_decoder"],
               (b["nmse_probe"], 1))
    tb.connect(head, (b["nmse_probe"], 0))
    tb.connect(b["daq_quantizer"], bits)
    b = dict([("csi_source", src), ("head", head)] + list(b.items()))
    return tb, b, lambda: b["nmse_probe"].count(), bits


def framework_chain(args, data, info, sent_bits):
    tb = gr.top_block("framework")
    src = invcsi.csi_source("mat", data, repeat=True, nr=info.nr, nt=info.nt, nc=info.nc)
    # No channel_model on this path, so no extra report is needed to flush it.
    head = blocks.head(gr.sizeof_gr_complex * info.vlen, args.reports)
    b = {
        "copy (encoder)": blocks.copy(gr.sizeof_gr_complex * info.vlen),
        "copy (decoder)": blocks.copy(gr.sizeof_gr_complex * info.vlen),
        "nmse_probe": invcsi.nmse_probe(info.nr * info.nt, info.nc),
        "bits (vector_source)": blocks.vector_source_b(sent_bits, False),
        "copy (quantizer)": blocks.copy(1),
        "bpsk_bit_mapper": invcsi.bpsk_bit_mapper(1.0),
        "delay": blocks.delay(gr.sizeof_gr_complex, 3),
        "channel_model": channel(args),
        "bpsk_demapper": invcsi.bpsk_demapper(),
        "null_sink": blocks.null_sink(1),
    }
    tb.connect(src, head, b["copy (encoder)"], b["copy (decoder)"], (b["nmse_probe"], 1))
    tb.connect(head, (b["nmse_probe"], 0))
    tb.connect(b["bits (vector_source)"], b["copy (quantizer)"], b["bpsk_bit_mapper"],
               b["delay"], b["channel_model"], b["bpsk_demapper"], b["null_sink"])
    b = dict([("csi_source", src), ("head", head)] + list(b.items()))
    return tb, b, lambda: b["nmse_probe"].count()


def timed_run(tb, count):
    t0 = time.perf_counter()
    tb.run()
    return time.perf_counter() - t0, count()


def work_seconds(blk):
    """Work time of a block from its performance counters; None for a hier block
    (channel_model), whose inner blocks Python cannot reach."""
    if not hasattr(blk, "pc_work_time_total"):
        return None
    return blk.pc_work_time_total() / float(gr.high_res_timer_tps())


def print_table(title, wall, reports, blks):
    times = {name: work_seconds(blk) for name, blk in blks.items()}
    total = sum(t for t in times.values() if t is not None)
    print("\n%s: %d reports in %.3f s = %.1f reports/s" % (title, reports, wall, reports / wall))
    print("  %-22s %12s %8s %14s" % ("block", "work ms", "share", "us per report"))
    for name, t in times.items():
        if t is None:
            print("  %-22s %12s   (hier block: no counters)" % (name, "-"))
            continue
        print("  %-22s %12.2f %7.1f%% %14.2f" % (
            name, 1e3 * t, 100.0 * t / total if total > 0 else 0.0, 1e6 * t / max(reports, 1)))
    print("  %-22s %12.2f   (sum over the blocks with counters)" % ("total", 1e3 * total))


def main():
    args = parse_args()
    setup_imports(args.build)
    info = invcsi.weights_info.read(args.weights)
    with tempfile.TemporaryDirectory(prefix="invcsi-bench-") as tmp:
        data = make_data(args, info, tmp)
        print("bench_flowgraph: %s (%s, %d x %d x %d, M = %d, B = %s), %d reports, batch %d, "
              "Eb/N0 %g dB, OMP_NUM_THREADS=%s, GNU Radio %s"
              % (args.weights, info.kind, info.nr, info.nt, info.nc, info.m,
                 info.bits or "uniform", args.reports, args.batch, args.snr_db,
                 os.environ.get("OMP_NUM_THREADS", "(unset)"), gr.version()))
        best = None
        for _ in range(args.repeats):
            tb, blks, count, bits = full_chain(args, data, info)
            wall, n = timed_run(tb, count)
            if best is None or wall < best[0]:
                best = (wall, n, blks, list(bits.data()))
        wall, n, blks, sent = best
        print_table("full chain", wall, n, blks)
        fw = None
        for _ in range(args.repeats):
            tb, fblks, count = framework_chain(args, data, info, sent)
            fwall, fn = timed_run(tb, count)
            if fw is None or fwall < fw[0]:
                fw = (fwall, fn, fblks)
        print_table("framework only (neural blocks replaced by copies)", *fw)
        neural = sum(work_seconds(blks[k]) for k in ("inn_encoder", "daq_quantizer",
                                                      "inn_ic_decoder"))
        print("\nneural blocks: %.1f us per report (encoder + quantizer + decoder work time); "
              "framework run: %.1f reports/s" % (1e6 * neural / n, fw[1] / fw[0]))


if __name__ == "__main__":
    main()

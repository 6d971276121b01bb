#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Training speed of the C trainer against its PyTorch twin, same machine, same threads.

For the INN and for InvCSINet (CR 1/16, B = 3 by default) at batch 128:
  C     invcsi-train on a small generated CDL-C set (invcsi-gen), --threads N; its own
        per-epoch "samples/s" (the trainer times its training steps only: zero grad,
        forward, backward, Adam; not the data loading or the evaluation), the median of
        the epochs after the first. With --cpu-time also the CPU-time rate: CPU seconds
        of a (1 + E)-epoch run minus those of a 1-epoch run (getrusage of the child), so
        start-up, data loading and the first epoch cancel.
  twin  bench/torch_twin.py in eager mode (torch.set_num_threads(N), oneDNN as PyTorch
        ships it unless --no-mkldnn), loading the weights the C run just wrote, one
        training step = zero grad, forward, backward, torch.optim.Adam; after 2 warm-up
        steps, the wall-clock (and process CPU-time) rate of --steps timed steps.
The ratio C/twin is printed per model and thread count (the aim of issue 10: >= 2).
OMP_WAIT_POLICY is PASSIVE for both unless set. The machine may be shared: `uptime` is printed before and after, and --repeat R keeps
the best of R runs of each measurement (the least disturbed one). CPU-time rates are
printed for 1 thread only (with more threads, idle-spinning threads count as work).

Usage: /usr/bin/python3 bench/train_speed.py [--threads 1,2] [--build-dir DIR] ...
       (--help for every option; the built programs come from --build-dir, or
       $INVCSI_APPS_DIR, or $INVCSI_BINARY_DIR/apps)
"""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Idle OpenMP threads sleep instead of spinning, for C and the twin alike (as ctest runs
# the project): on a shared machine a spinning thread steals the core its partner needs,
# which cost PyTorch 4x at 2 threads here. Set OMP_WAIT_POLICY yourself to override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Training samples/s of the C trainer and of the PyTorch twin "
                    "(bench/torch_twin.py), INN and InvCSINet, same thread count.")
    ap.add_argument("--threads", default="1",
                    help="thread counts, comma-separated, e.g. 1,2 [1]")
    ap.add_argument("--build-dir", default=None,
                    help="CMake build directory holding apps/invcsi-train and "
                         "apps/invcsi-gen [$INVCSI_APPS_DIR/.., $INVCSI_BINARY_DIR]")
    ap.add_argument("--models", default="inn,invcsinet", help="inn,invcsinet [both]")
    ap.add_argument("--batch", type=int, default=128, help="reports per step [128]")
    ap.add_argument("--cr", default="1/16", help="compression ratio [1/16]")
    ap.add_argument("--bits", type=int, default=3, help="InvCSINet bits B [3]")
    ap.add_argument("--samples", type=int, default=1500,
                    help="reports generated (70%% train: 8 batches of 128) [1500]")
    ap.add_argument("--epochs", type=int, default=3,
                    help="C epochs per run (the first is not counted) [3]")
    ap.add_argument("--steps", type=int, default=6, help="timed twin steps [6]")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of each measurement, the best kept [1]")
    ap.add_argument("--cpu-time", action="store_true",
                    help="also the CPU-time rates of C (one more 1-epoch run each)")
    ap.add_argument("--no-mkldnn", action="store_true",
                    help="twin without oneDNN convolutions (PyTorch's own kernels)")
    ap.add_argument("--workdir", default=None, help="scratch directory [a temporary one]")
    return ap.parse_args(argv)


def apps_dir(args):
    if args.build_dir:
        return os.path.join(args.build_dir, "apps")
    if os.environ.get("INVCSI_APPS_DIR"):
        return os.environ["INVCSI_APPS_DIR"]
    if os.environ.get("INVCSI_BINARY_DIR"):
        return os.path.join(os.environ["INVCSI_BINARY_DIR"], "apps")
    sys.exit("train_speed: give --build-dir (or set INVCSI_APPS_DIR / INVCSI_BINARY_DIR)")


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "(uptime not available)"


def thread_env(n):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(n)
    return env


def run_c(app, data, kind, args, threads, epochs, out):
    """(median samples/s over epochs 2.., CPU seconds of the child) of one invcsi-train."""
    cmd = [app, "--data", data, "--model", kind, "--cr", args.cr, "--batch", str(args.batch),
           "--epochs", str(epochs), "--eval-every", "0", "--threads", str(threads),
           "-o", out]
    if kind == "invcsinet":
        cmd += ["--bits", str(args.bits)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, capture_output=True, text=True, env=thread_env(threads))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"train_speed: {' '.join(cmd)} failed:\n{p.stderr}")
    rates = [float(r) for r in re.findall(r"([0-9.]+) samples/s", p.stderr)]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    counted = rates[1:] if len(rates) > 1 else rates
    return statistics.median(counted), cpu, " ".join(cmd)


def time_twin(weights, args, threads):
    """The twin's rates, measured in a child process whose BLAS and OpenMP pools are sized
    to `threads` before torch loads: torch.set_num_threads alone leaves the BLAS that
    Debian's torch links with at one thread per core (the twin then used 2 cores at
    "1 thread": its CPU time was twice its wall time)."""
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--twin-worker", weights, str(threads),
           "--batch", str(args.batch), "--steps", str(args.steps)]
    if args.no_mkldnn:
        cmd.append("--no-mkldnn")
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"train_speed: twin worker failed:\n{p.stderr}")
    a, b, params = p.stdout.split()[-3:]
    return float(a), float(b), int(params)


def twin_worker(weights, args, threads):
    import torch
    sys.path.insert(0, HERE)
    import torch_twin as tw
    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = not args.no_mkldnn
    twin = tw.Twin(weights)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(args.batch, twin.cfg["dim"], generator=gen)
    for _ in range(2):
        twin.train_step(x, gen=gen)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        twin.train_step(x, gen=gen)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = args.steps * args.batch
    params = sum(t.numel() for t in tw.trainable(twin.params))
    return n / wall, n / cpu, params


def main(argv):
    if argv[:1] == ["--twin-worker"]:
        args = parse_args(argv[3:])
        a, b, params = twin_worker(argv[1], args, int(argv[2]))
        print(a, b, params)
        return 0
    args = parse_args(argv)
    threads = [int(t) for t in args.threads.split(",") if t]
    models = [m for m in args.models.split(",") if m]
    apps = apps_dir(args)
    gen, train = os.path.join(apps, "invcsi-gen"), os.path.join(apps, "invcsi-train")
    for p in (gen, train):
        if not os.access(p, os.X_OK):
            sys.exit(f"train_speed: {p} not found (build the project, or give --build-dir)")
    work = args.workdir or tempfile.mkdtemp(prefix="train_speed.")
    try:
        return measure(args, threads, models, gen, train, work, argv)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


def measure(args, threads, models, gen, train, work, argv):
    os.makedirs(work, exist_ok=True)
    import torch
    print(f"train_speed: {' '.join([sys.executable] + [os.path.abspath(__file__)] + argv)}")
    print(f"machine: {os.cpu_count()} CPUs; torch {torch.__version__} "
          f"(oneDNN {'off' if args.no_mkldnn else 'on'}); OMP_WAIT_POLICY "
          f"{os.environ['OMP_WAIT_POLICY']}; load before: {uptime()}")
    data = os.path.join(work, "data.mat")
    subprocess.run([gen, "--model", "cdl-c", "--samples", str(args.samples), "--seed", "1",
                    "-o", data], check=True, capture_output=True)
    rows = []
    for t in threads:
        for kind in models:
            w = os.path.join(work, f"{kind}.safetensors")
            c_sps, c_cpu_sps, tw_sps, tw_cpu_sps = [], [], [], []
            for _ in range(args.repeat):
                sps, cpu_full, cmd = run_c(train, data, kind, args, t, args.epochs, w)
                c_sps.append(sps)
                if args.cpu_time:
                    _, cpu_one, _ = run_c(train, data, kind, args, t, 1, w + ".1")
                    per_epoch_reports = (int(args.samples * 0.7) // args.batch) * args.batch
                    c_cpu_sps.append((args.epochs - 1) * per_epoch_reports /
                                     max(cpu_full - cpu_one, 1e-9))
                a, b, params = time_twin(w, args, t)
                tw_sps.append(a)
                tw_cpu_sps.append(b)
            rows.append(dict(threads=t, kind=kind, params=params, c=max(c_sps),
                             twin=max(tw_sps),
                             c_cpu=max(c_cpu_sps) if c_cpu_sps else None,
                             twin_cpu=max(tw_cpu_sps), cmd=cmd))
            print(f"  measured {kind} at {t} thread(s): C {max(c_sps):.1f}, twin "
                  f"{max(tw_sps):.1f} samples/s", flush=True)
    print(f"load after: {uptime()}")
    bits = f", InvCSINet B = {args.bits}" if "invcsinet" in models else ""
    print(f"\nTraining samples/s at batch {args.batch}, CR {args.cr}{bits} "
          f"(best of {args.repeat}; C: invcsi-train's own per-epoch rate, twin: eager PyTorch)")
    head = f"{'threads':>7} {'model':<10} {'params':>8} {'C':>9} {'twin':>9} {'C/twin':>7}"
    if any(r["threads"] == 1 for r in rows):
        head += f" {'C cpu':>9} {'twin cpu':>9} {'C/twin':>7}"
    print(head)
    for r in rows:
        line = (f"{r['threads']:>7} {r['kind']:<10} {r['params']:>8} {r['c']:>9.1f} "
                f"{r['twin']:>9.1f} {r['c'] / r['twin']:>7.2f}")
        if r["threads"] == 1:
            cc = f"{r['c_cpu']:>9.1f}" if r["c_cpu"] else f"{'-':>9}"
            ratio = f"{r['c_cpu'] / r['twin_cpu']:>7.2f}" if r["c_cpu"] else f"{'-':>7}"
            line += f" {cc} {r['twin_cpu']:>9.1f} {ratio}"
        print(line)
    print("(cpu columns: samples per CPU-second, 1 thread only; aim of issue 10: C/twin >= 2)")
    print(f"C command (last): {rows[-1]['cmd']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

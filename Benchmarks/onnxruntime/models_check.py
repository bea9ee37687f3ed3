#!/usr/bin/env python3
"""Whole networks: our logits against PyTorch's eval-mode forward, and latency against ONNX Runtime.

For each model, a PyTorch network (torchvision's for mobilenet_v2, mobilenet_v3_large/small,
vgg16, alexnet; ../../../shared/specs/reference_models.py for mobilenet_v1 and shufflenet_v1_g3)
is built with random weights and random BatchNorm statistics (seeded), put in eval mode, and:
  1. its state_dict is saved with safetensors.torch.save_file, a random image as .npy;
  2. `mobilekernels infer` (release build) runs it: the logits are compared with PyTorch's
     (max |ours - torch| / max |torch|, the issue's measure);
  3. the model is exported to ONNX and timed in ONNX Runtime 1.32 (ORT_ENABLE_ALL, 1 and 2
     threads), alternating with our latency from `mobilekernels infer --repeat` (--rounds rounds,
     so that both sides see the same host load).

Needs: pip install torch==2.13.0 torchvision==0.28.0 safetensors onnx onnxruntime numpy (installs nothing
itself). side_by_side.py beside it also times OpenVINO.
Usage: python3 Benchmarks/onnxruntime/models_check.py [--models mobilenet_v2,vgg16] [--threads 1,2]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models_common as mc  # noqa: E402

mc.require(["numpy", "torch", "torchvision", "onnx", "onnxruntime", "safetensors"], "models_check.py")
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

ROOT = mc.ROOT
MODELS = mc.MODELS


def time_ort(path, x, threads, runs):
    session = mc.ort_session(path, threads)
    feed = {session.get_inputs()[0].name: x}
    for _ in range(3):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "mobilekernels"))
    ap.add_argument("--rounds", type=int, default=3,
                    help="timing rounds per model and thread count, ours then ORT in each (default 3); "
                         "the ratio is the median of the rounds' ratios, so a noisy minute hits both sides")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    torch.set_num_threads(1)
    work = tempfile.mkdtemp(prefix="mk-models-")
    print(f"torch {torch.__version__}, torchvision {mc.import_torchvision().__version__}, onnxruntime {ort.__version__}; files in {work}")
    print(f"{'model':20} {'rel. error':>10} " + " ".join(f"{'ours ' + str(t) + 't ms':>12} {'ORT ' + str(t) + 't ms':>11} {'ratio':>6}" for t in threads))
    worst = 0.0
    # Phase 1: PyTorch, the files and the correctness check, before anything is timed.
    prepared = []
    for name in args.models.split(","):
        p = mc.prepare(name, work, args.binary)
        worst = max(worst, p["error"])
        prepared.append((name, p["weights"], p["image"], p["onnx"], p["x"], p["error"]))
    # Timing: per model and thread count, `rounds` rounds of ours (a fresh process) then ONNX
    # Runtime (a fresh session, closed before our next round, so its spinning threads never run
    # next to ours). Reported: the median over rounds of each side's median, and the median of
    # the rounds' ratios.
    for name, weights, image, onnx_path, x, error in prepared:
        cells = []
        for t in threads:
            mine, theirs, ratios = [], [], []
            for _ in range(max(1, args.rounds)):
                run = subprocess.run([args.binary, "infer", "--model", name, "--weights", weights, "--input", image,
                                      "--threads", str(t), "--repeat", str(args.runs)], capture_output=True, text=True)
                ours = float(re.search(r": ([0-9.]+) ms median", run.stdout).group(1))
                median, _ = time_ort(onnx_path, x, t, args.runs)
                mine.append(ours)
                theirs.append(median)
                ratios.append(ours / median)
            cells.append(f"{statistics.median(mine):12.3f} {statistics.median(theirs):11.3f} {statistics.median(ratios):6.2f}")
        print(f"{name:20} {error:10.2e} " + " ".join(cells), flush=True)
    print("ratio = median over rounds of our median / ONNX Runtime's median (< 1: ours faster); relative error = max|ours - torch| / max|torch|")
    sys.exit(0 if worst < 1e-4 else 1)


if __name__ == "__main__":
    main()

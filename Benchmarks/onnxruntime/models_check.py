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

Needs: pip install torch torchvision safetensors onnx onnxruntime numpy (installs nothing itself).
Usage: python3 Benchmarks/onnxruntime/models_check.py [--models mobilenet_v2,vgg16] [--threads 1,2]
"""
import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort
import torch
import torchvision
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SPECS = os.path.join(os.path.dirname(ROOT), "shared", "specs", "reference_models.py")
MODELS = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "shufflenet_v1_g3", "alexnet", "vgg16"]


def build(name):
    if name in ("mobilenet_v1", "shufflenet_v1_g3"):
        spec = importlib.util.spec_from_file_location("reference_models", SPECS)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.MobileNetV1() if name == "mobilenet_v1" else module.ShuffleNetV1(groups=3)
    return getattr(torchvision.models, name)(weights=None)


def randomize_batchnorm(model, generator):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = 1 + 0.2 * (torch.rand(c, generator=generator) - 0.5)
            m.bias.data = 0.2 * (torch.rand(c, generator=generator) - 0.5)
            m.running_mean.data = 0.2 * (torch.rand(c, generator=generator) - 0.5)
            m.running_var.data = 1 + 0.4 * (torch.rand(c, generator=generator) - 0.5)


def time_ort(path, x, threads, runs):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
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
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, onnxruntime {ort.__version__}; files in {work}")
    print(f"{'model':20} {'rel. error':>10} " + " ".join(f"{'ours ' + str(t) + 't ms':>12} {'ORT ' + str(t) + 't ms':>11} {'ratio':>6}" for t in threads))
    worst = 0.0
    # Phase 1: PyTorch, the files and the correctness check, before anything is timed.
    prepared = []
    for name in args.models.split(","):
        generator = torch.Generator().manual_seed(0)
        torch.manual_seed(0)
        model = build(name)
        randomize_batchnorm(model, generator)
        model.eval()
        x = torch.rand(1, 3, 224, 224, generator=generator) * 2 - 1
        with torch.no_grad():
            want = model(x).numpy()
        weights = os.path.join(work, f"{name}.safetensors")
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, weights)
        image = os.path.join(work, f"{name}.npy")
        np.save(image, x.numpy().astype(np.float32))
        out = os.path.join(work, f"{name}.out.npy")
        run = subprocess.run([args.binary, "infer", "--model", name, "--weights", weights, "--input", image,
                              "--output", out, "--threads", "1", "--repeat", "0"], capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"{name}: mobilekernels failed:\n{run.stdout}\n{run.stderr}")
        error = float(np.max(np.abs(np.load(out) - want)) / np.max(np.abs(want)))
        worst = max(worst, error)
        onnx_path = os.path.join(work, f"{name}.onnx")
        torch.onnx.export(model, x, onnx_path, input_names=["input"], output_names=["logits"], opset_version=17, dynamo=False)
        prepared.append((name, weights, image, onnx_path, x.numpy(), error))
        del model
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

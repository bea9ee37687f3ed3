#!/usr/bin/env python3
"""Peak resident memory of one inference, side by side: ours, ONNX Runtime and OpenVINO, this machine.

Each model (see models_common.py) is built in PyTorch with seeded random weights, saved as
safetensors + .npy and exported to ONNX (opset 17), as side_by_side.py does. Then, each in a fresh
process, batch 1, 224x224, 1 thread (ours: two inferences, the peers one; the peak is the same):
  ours      `mobilekernels infer --weights W --input X --threads 1 --repeat 1` (auto convolutions,
            then --conv-algorithm direct); its peak RSS (the kernel's ru_maxrss of the child) as
            is, the process's own baseline (Swift runtime, ~20 MB) included;
  ORT       python: import numpy, read ru_maxrss (the interpreter's baseline), import
            onnxruntime, read it again (the library's too), make the session (CPU EP, intra_op 1,
            ORT_ENABLE_ALL) and run once;
  OpenVINO  the same with openvino: compile_model(onnx, "CPU", 1 thread, f32, LATENCY), infer once.
For the peers the table shows peak - the interpreter (their library's pages included, as ours
include the Swift runtime's), peak - both, and the raw peak.
The issue's target for ours: peak <= 1.1 x (weights file + our planned activations) + 30 MB, and
below both peers' peak with their Python interpreter's baseline subtracted (also judged with
their library subtracted too). MB are 10^6 bytes.

Needs (installs nothing): pip install torch==2.13.0 torchvision==0.28.0 onnx onnxruntime openvino safetensors numpy
Usage: python3 Benchmarks/onnxruntime/memory_side_by_side.py [--models vgg16,mobilenet_v2] [--json out.json]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models_common as mc  # noqa: E402

PEER_NAMES = {"ort": "ORT", "openvino": "OpenVINO"}
PEER_SCRIPT = {
    "ort": """
import resource, sys, numpy as np
interpreter = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
import onnxruntime as ort
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
s = ort.InferenceSession(sys.argv[1], o, providers=["CPUExecutionProvider"])
s.run(None, {"input": np.load(sys.argv[2])})
print("PEER_RSS_KB", interpreter, base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""",
    "openvino": """
import resource, sys, numpy as np
interpreter = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
import openvino as ov
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
c = ov.Core()
m = c.compile_model(sys.argv[1], "CPU", {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32",
                                         "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1})
m.create_infer_request().infer({0: np.load(sys.argv[2])})
print("PEER_RSS_KB", interpreter, base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""",
}


def output_of(cmd):
    """Runs `cmd` and returns its stdout; exits with its output if it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} ... failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def measured(cmd):
    """(stdout, peak RSS in MB) of `cmd`, from a wrapper that waits for it with wait4."""
    wrapper = ("import os, subprocess, sys\n"
               "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)\n"
               "out = p.stdout.read()\n"
               "_, status, usage = os.wait4(p.pid, 0)\n"
               "sys.stdout.write(out)\n"
               "print('MAXRSS_KB', usage.ru_maxrss)\n"
               "sys.exit(os.waitstatus_to_exitcode(status))\n")
    out = output_of([sys.executable, "-c", wrapper] + cmd)
    kb = int(re.search(r"MAXRSS_KB (\d+)", out).group(1))
    return out, kb * 1024 / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(mc.MODELS))
    ap.add_argument("--binary", default=os.path.join(mc.ROOT, ".build", "release", "mobilekernels"))
    ap.add_argument("--peers", default="ort,openvino")
    ap.add_argument("--json")
    args = ap.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    unknown = [p for p in peers if p not in PEER_SCRIPT]
    if unknown:
        sys.exit(f"unknown peers {unknown}: choose from {sorted(PEER_SCRIPT)}")
    mc.require(["torch", "torchvision", "onnx", "safetensors", "numpy"]
               + [{"ort": "onnxruntime", "openvino": "openvino"}[p] for p in peers], "memory_side_by_side.py")
    work = tempfile.mkdtemp(prefix="mk-memory-")
    rows = []
    try:
        for name in args.models.split(","):
            p = mc.prepare(name, work, args.binary)
            if not p["error"] <= 1e-4:
                sys.exit(f"{name}: our logits differ from PyTorch's by {p['error']:.2e} (limit 1e-4)")
            weights_mb = os.path.getsize(p["weights"]) / 1e6
            row = {"model": name, "weights_mb": weights_mb}
            for algorithm in ["auto", "direct"]:
                out, mb = measured([args.binary, "infer", "--model", name, "--weights", p["weights"], "--input",
                                    p["image"], "--threads", "1", "--repeat", "1", "--top", "1",
                                    "--conv-algorithm", algorithm])
                row[f"ours_{algorithm}_mb"] = mb
                act = re.search(r"activations ([0-9.]+) MiB", out)
                if not act:
                    sys.exit(f"{name}: no activations line in mobilekernels infer's output:\n{out}")
                row[f"activations_{algorithm}_mb"] = float(act.group(1)) * 1048576 / 1e6
            for peer in peers:
                out, mb = measured([sys.executable, "-c", PEER_SCRIPT[peer], p["onnx"], p["image"]])
                interp_kb, base_kb, peak_kb = (int(v) for v in re.search(r"PEER_RSS_KB (\d+) (\d+) (\d+)", out).groups())
                row[f"{peer}_mb"] = peak_kb * 1024 / 1e6
                row[f"{peer}_interpreter_mb"] = interp_kb * 1024 / 1e6
                row[f"{peer}_baseline_mb"] = base_kb * 1024 / 1e6
            for algorithm in ["auto", "direct"]:
                row[f"target_{algorithm}_mb"] = 1.1 * (weights_mb + row[f"activations_{algorithm}_mb"]) + 30
            rows.append(row)
            print(f"{name}: " + ", ".join(f"{k} {v:.1f}" for k, v in row.items() if isinstance(v, float)), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    head = "| model | weights file | ours (auto) | ours (direct) | target 1.1x(w+act)+30 |"
    line = "|---|---:|---:|---:|---:|"
    for peer in peers:
        head += f" {PEER_NAMES[peer]} (peak - Python; - library too; peak) |"
        line += "---:|"
    print("\nPeak resident memory, MB (10^6 bytes), batch 1, 224x224, 1 thread, one inference\n")
    print(head)
    print(line)
    for r in rows:
        cells = [r["model"], f"{r['weights_mb']:.1f}", f"{r['ours_auto_mb']:.0f}", f"{r['ours_direct_mb']:.0f}",
                 f"{r['target_auto_mb']:.0f}"]
        for peer in peers:
            cells.append(f"{r[peer + '_mb'] - r[peer + '_interpreter_mb']:.0f}; "
                         f"{r[peer + '_mb'] - r[peer + '_baseline_mb']:.0f}; {r[peer + '_mb']:.0f}")
        print("| " + " | ".join(cells) + " |")
    print()
    for r in rows:
        below_target = r["ours_auto_mb"] <= r["target_auto_mb"]
        def verdict(baseline):
            if not peers:
                return "no peers measured"
            return "PASS" if all(r["ours_auto_mb"] < r[p + "_mb"] - r[p + baseline] for p in peers) else "FAIL"
        peers_verdict = (f"{verdict('_interpreter_mb')} (their Python subtracted), "
                         f"{verdict('_baseline_mb')} (their library too)")
        print(f"{r['model']}: auto {'PASS' if below_target else 'FAIL'} target, below peers {peers_verdict}; "
              f"direct {'PASS' if r['ours_direct_mb'] <= r['target_direct_mb'] else 'FAIL'} target")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""int8 networks side by side: ours and ONNX Runtime's static int8 quantization, this machine.

Phase 1 (nothing is timed): each model is built in PyTorch with seeded random weights and
BatchNorm statistics (models_common.prepare: safetensors, one 224x224 image, the ONNX export).
--calibration seeded random images of the same distribution are saved as one .npy; both sides
calibrate on them:
  ours  `mobilekernels quantize --calibration` (per-channel int8 weights, BatchNorm folded,
        min/max activation ranges);
  ORT   onnxruntime.quantization.quantize_static on the pre-processed export: QDQ format,
        per-channel int8 weights, int8 activations, MinMax calibration (its defaults otherwise).
Each side's int8 logits are compared with PyTorch's float logits (max |x - torch| / max |torch|,
informational: int8 is not exact) and with each other's top-1 class.

Phase 2: per model and thread count T, --rounds rounds; each round times, in rotating order,
ours int8 (`mobilekernels infer --int8`, a fresh process, its printed median of R runs), ORT int8
(a fresh session: CPU EP, intra_op T, ORT_ENABLE_ALL; --warmup untimed runs, median of R) and
ours float32 (`mobilekernels infer`). Cells are medians over rounds; ratios are medians over
rounds of the per-round ratios.

Needs (installs nothing): pip install torch==2.13.0 torchvision==0.28.0 onnx onnxruntime safetensors numpy
Usage: python3 Benchmarks/onnxruntime/int8_side_by_side.py [--models mobilenet_v1,mobilenet_v2,shufflenet_v1_g3,mobilenet_v3_large,mobilenet_v3_small]
       [--threads 1,2] [--rounds 3] [--runs 20] [--calibration 32] [--json out.json]
"""
import argparse
import gc
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models_common as mc  # noqa: E402
import side_by_side as sbs  # noqa: E402

MODELS = ["mobilenet_v1", "mobilenet_v2", "shufflenet_v1_g3", "mobilenet_v3_large", "mobilenet_v3_small"]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--calibration", type=int, default=32, help="calibration images (default 32)")
    ap.add_argument("--binary", default=os.path.join(mc.ROOT, ".build", "release", "mobilekernels"))
    ap.add_argument("--json", help="write every raw number here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    return ap.parse_args()


def run_ours(binary, args, what):
    run = subprocess.run([binary] + args, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"mobilekernels {what} failed ({' '.join(args)}):\n{run.stdout}\n{run.stderr}")
    return run.stdout


def time_ours(binary, p, threads, runs, int8):
    weights = p["qs8"] if int8 else p["weights"]
    out = run_ours(binary, ["infer", "--model", p["name"], "--weights", weights, "--input", p["image"],
                            "--threads", str(threads), "--repeat", str(runs), "--top", "0"] + (["--int8"] if int8 else []),
                   "infer")
    match = re.search(r"([0-9.]+) ms median", out)
    if not match:
        sys.exit(f"{p['name']}: no median in mobilekernels' output:\n{out}")
    return float(match.group(1))


class Reader:
    """The calibration images for onnxruntime.quantization, one per call."""

    def __init__(self, name, images):
        self.name, self.images, self.i = name, images, 0

    def get_next(self):
        if self.i >= len(self.images):
            return None
        self.i += 1
        return {self.name: self.images[self.i - 1:self.i]}


def prepare_int8(p, work, binary, calibration):
    import numpy as np
    import onnxruntime as ort
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    name = p["name"]
    p["qs8"] = os.path.join(work, f"{name}.qs8.safetensors")
    run_ours(binary, ["quantize", "--model", name, "--weights", p["weights"], "--calibration", calibration,
                      "--output", p["qs8"]], "quantize")
    out = os.path.join(work, f"{name}.int8.out.npy")
    run_ours(binary, ["infer", "--model", name, "--weights", p["qs8"], "--int8", "--input", p["image"],
                      "--output", out, "--threads", "1", "--repeat", "0", "--top", "0"], "infer --int8")
    ours = np.load(out)
    pre = os.path.join(work, f"{name}.pre.onnx")
    quant_pre_process(p["onnx"], pre)
    p["onnx_int8"] = os.path.join(work, f"{name}.int8.onnx")
    images = np.load(calibration)
    quantize_static(pre, p["onnx_int8"], Reader("input", images), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    session = mc.ort_session(p["onnx_int8"], 1)
    theirs = session.run(None, {"input": p["x"]})[0]
    del session
    p["error_ours"] = mc.rel_error(ours, p["want"])
    p["error_ort"] = mc.rel_error(theirs, p["want"])
    p["top1"] = (int(np.argmax(ours)), int(np.argmax(theirs)), int(np.argmax(p["want"])))
    gc.collect()


def time_ort(p, threads, runs, warmup):
    session = mc.ort_session(p["onnx_int8"], threads)
    feed = {session.get_inputs()[0].name: p["x"]}
    try:
        return sbs.timed(lambda: session.run(None, feed), runs, warmup)["median"]
    finally:
        del session
        gc.collect()


def main():
    args = parse_args()
    mc.require(["torch", "onnx", "onnxruntime", "safetensors", "numpy"], "int8_side_by_side.py")
    import numpy as np
    import torch
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} not found: swift build -c release --product mobilekernels")
    models = args.models.split(",")
    threads = [int(t) for t in args.threads.split(",")]
    m, v = sbs.machine(), sbs.versions()
    work = tempfile.mkdtemp(prefix="int8-sbs-")
    try:
        generator = torch.Generator().manual_seed(1)
        calibration = os.path.join(work, "calibration.npy")
        np.save(calibration, (torch.rand(args.calibration, 3, 224, 224, generator=generator) * 2 - 1).numpy())
        prepared = []
        for name in models:
            p = mc.prepare(name, work, args.binary)
            prepare_int8(p, work, args.binary, calibration)
            prepared.append(p)
            print(f"{name}: int8 logits vs PyTorch float: ours {p['error_ours']:.3f}, ORT {p['error_ort']:.3f} "
                  f"(max |x - torch| / max |torch|); top-1 ours {p['top1'][0]}, ORT {p['top1'][1]}, float {p['top1'][2]}",
                  file=sys.stderr)
        rows = []
        for p in prepared:
            for t in threads:
                sides = {"ours": [], "ort": [], "float": []}
                order = ["ours", "ort", "float"]
                for r in range(args.rounds):
                    for side in order[r % 3:] + order[:r % 3]:
                        if side == "ort":
                            sides[side].append(time_ort(p, t, args.runs, args.warmup))
                        else:
                            sides[side].append(time_ours(args.binary, p, t, args.runs, side == "ours"))
                row = {"model": p["name"], "threads": t, "raw": sides,
                       "ours_ms": statistics.median(sides["ours"]), "ort_ms": statistics.median(sides["ort"]),
                       "float_ms": statistics.median(sides["float"]),
                       "ort_over_ours": statistics.median(o / u for o, u in zip(sides["ort"], sides["ours"])),
                       "float_over_ours": statistics.median(f / u for f, u in zip(sides["float"], sides["ours"])),
                       "error_ours": p["error_ours"], "error_ort": p["error_ort"]}
                rows.append(row)
                print(f"{p['name']} {t}t: ours int8 {row['ours_ms']:.3f} ms, ORT int8 {row['ort_ms']:.3f} ms, "
                      f"ours float32 {row['float_ms']:.3f} ms", file=sys.stderr)
        print(sbs.machine_line(m, v))
        print(f"int8, batch 1, 224x224, {args.rounds} rounds x {args.runs} runs; calibration {args.calibration} random images.\n")
        print("| model | threads | ours int8 ms | ORT int8 ms | ORT / ours | ours float32 ms | float32 / int8 | int8 error ours / ORT |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['model']} | {r['threads']} | {r['ours_ms']:.3f} | {r['ort_ms']:.3f} | {r['ort_over_ours']:.2f}x | "
                  f"{r['float_ms']:.3f} | {r['float_over_ours']:.2f}x | {r['error_ours']:.3f} / {r['error_ort']:.3f} |")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"machine": m, "versions": v, "rows": rows}, f, indent=1)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

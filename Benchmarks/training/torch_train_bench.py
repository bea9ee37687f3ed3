#!/usr/bin/env python3
"""PyTorch's CPU training step on the seven networks, beside ours (`benchmarks train --json`).

For each model: one SGD step (forward in train mode with dropout, mean cross-entropy, backward,
SGD with momentum 0.9 and weight decay 5e-4) at batch N of 32x32 images (AlexNet 64x64), on 1
and 2 threads (torch.set_num_threads), in NCHW and channels_last; the step's median over
--min-time seconds (at least 3 steps, after 2 warm-up steps). Prints one markdown row per model
and thread count with both layouts' images/s, the faster one, ours (from --ours) and ours /
faster. Same models, batch, sizes and threads as `swift run -c release benchmarks train`;
--stem-stride 1 times the small-image variant of the MobileNets and ShuffleNetV1 (the first
convolution's stride 1, as torch_train.py and `benchmarks train --stem-stride 1`; VGG16 and
AlexNet keep their published form), --no-stem-pool also drops ShuffleNetV1's max pool after the
first convolution (its CIFAR form with --stem-stride 1, as `benchmarks train --no-stem-pool`),
and --ours must then come from such a run.

Needs (installs nothing): pip install torch==2.13.0 torchvision==0.28.0
Usage: python3 Benchmarks/training/torch_train_bench.py [--models mobilenet_v2,vgg16] [--batch 128]
       [--threads 1,2] [--min-time 3] [--stem-stride 2] [--no-stem-pool] [--ours train.json] [--json out.json]
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "onnxruntime"))
import models_common as mc  # noqa: E402
import torch_train as tt  # noqa: E402


def step_time(model, x, y, optimizer, min_time):
    import torch
    loss_fn = torch.nn.CrossEntropyLoss()

    def once():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    for _ in range(2):
        once()
    times, begin = [], time.perf_counter()
    while len(times) < 3 or time.perf_counter() - begin < min_time:
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(mc.MODELS))
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--min-time", type=float, default=3.0)
    ap.add_argument("--stem-stride", type=int, default=2, choices=[1, 2])
    ap.add_argument("--no-stem-pool", action="store_true", help="ShuffleNetV1 without its stem max pool (torch_train.py --no-stem-pool)")
    ap.add_argument("--ours", help="benchmarks train --json output to compare with")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args()
    import torch
    ours = {}
    if args.ours:
        for r in json.load(open(args.ours))["rows"]:
            stem = r["params"].get("stem_stride", 2)
            if stem != (2 if r["model"] in ("alexnet", "vgg16") else args.stem_stride):
                raise SystemExit(f"{args.ours}: {r['model']} was timed with stem stride {stem}, not --stem-stride {args.stem_stride}")
            if r["params"].get("stem_pool", True) != (not (args.no_stem_pool and r["model"] == "shufflenet_v1_g3")):
                raise SystemExit(f"{args.ours}: {r['model']} was timed with stem_pool {r['params'].get('stem_pool', True)}, "
                                 f"not as --no-stem-pool says")
            ours[(r["model"], r["threads"])] = r["images_per_s"]
    rows = []
    print(f"torch {torch.__version__}, batch {args.batch}, 32x32 (alexnet 64x64), stem stride {args.stem_stride} "
          f"(vgg16, alexnet: 2){', shufflenet without its stem pool' if args.no_stem_pool else ''}, SGD momentum 0.9, weight decay 5e-4")
    print("| model | threads | torch NCHW img/s | torch channels_last img/s | torch faster | ours img/s | ours / faster |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        size = 64 if name == "alexnet" else 32
        stem_stride = 2 if name in ("alexnet", "vgg16") else args.stem_stride
        stem_pool = not (args.no_stem_pool and name == "shufflenet_v1_g3")
        for threads in [int(t) for t in args.threads.split(",")]:
            torch.set_num_threads(threads)
            result = {}
            for layout in ("nchw", "channels_last"):
                torch.manual_seed(0)
                model = tt.variant(mc.build(name, num_classes=10), stem_stride, stem_pool)
                model.train()
                x = torch.randn(args.batch, 3, size, size)
                y = torch.randint(0, 10, (args.batch,))
                if layout == "channels_last":
                    model = model.to(memory_format=torch.channels_last)
                    x = x.contiguous(memory_format=torch.channels_last)
                optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4)
                result[layout] = args.batch / step_time(model, x, y, optimizer, args.min_time)
            faster = max(result.values())
            mine = ours.get((name, threads))
            ratio = f"{mine / faster:.2f}x" if mine else "-"
            print(f"| {name} | {threads} | {result['nchw']:.0f} | {result['channels_last']:.0f} | {faster:.0f} | "
                  f"{mine:.0f} | {ratio} |" if mine else
                  f"| {name} | {threads} | {result['nchw']:.0f} | {result['channels_last']:.0f} | {faster:.0f} | - | - |", flush=True)
            rows.append({"model": name, "threads": threads, "batch": args.batch, "size": size, "stem_stride": stem_stride, "stem_pool": stem_pool,
                         "torch_nchw": result["nchw"],
                         "torch_channels_last": result["channels_last"], "ours": mine})
    if args.json:
        json.dump({"torch": torch.__version__, "rows": rows}, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()

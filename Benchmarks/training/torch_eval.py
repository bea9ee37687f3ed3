#!/usr/bin/env python3
"""A checkpoint `mobilekernels train` wrote, loaded strictly into PyTorch and evaluated there.

`model.load_state_dict(safetensors.torch.load_file(CKPT), strict=True)` into models_common.build's
model (torchvision's or the specs' reference definition, 10 classes; the first Conv2d's stride set
to 1 when the checkpoint's metadata says stem_stride 1, ShuffleNetV1's max pool dropped when it says
stem_pool false), then the test accuracy on Fashion-MNIST
(or MNIST) with the checkpoint's input transform (its size, mean and std metadata): the number
`mobilekernels eval --model NAME --weights CKPT` prints, to 0.1 points.

Needs (installs nothing): pip install torch==2.13.0 torchvision==0.28.0 safetensors numpy
Usage: python3 Benchmarks/training/torch_eval.py --model mobilenet_v1 --weights v1.safetensors
       [--data-dir /usr/share/datasets/fashion-mnist] [--threads 2]
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "onnxruntime"))
import models_common as mc  # noqa: E402
import torch_train as tt  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=mc.MODELS)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--data-dir", default=tt.FASHION)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file
    torch.set_num_threads(args.threads)
    with safe_open(args.weights, "pt") as f:
        meta = f.metadata() or {}
    size = int(meta.get("size", 64 if args.model == "alexnet" else 32))
    mean, std = float(meta["mean"].split(",")[0]), float(meta["std"].split(",")[0])
    stem_stride, stem_pool = meta.get("stem_stride", "2"), meta.get("stem_pool", "true")
    if stem_stride not in ("1", "2") or stem_pool not in ("true", "false"):
        raise SystemExit(f"{args.weights}: stem_stride '{stem_stride}' and stem_pool '{stem_pool}' are not 1 or 2 and true or false")
    model = tt.variant(mc.build(args.model, num_classes=10), int(stem_stride), stem_pool == "true")
    model.load_state_dict(load_file(args.weights), strict=True)
    model.eval()
    images, labels = tt.load(args.data_dir, "test")
    x, y = tt.to_size(images, size), torch.from_numpy(labels)
    correct = 0
    with torch.no_grad():
        for start in range(0, len(y), 100):
            batch = ((x[start:start + 100] - mean) / std).expand(-1, 3, -1, -1).contiguous()
            correct += (model(batch).argmax(1) == y[start:start + 100]).sum().item()
    print(f"{args.model} from {args.weights} in PyTorch {torch.__version__} (strict load), {size}x{size}: "
          f"test accuracy {100 * correct / len(y):.2f}%")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""PyTorch trained with `mobilekernels train`'s recipe, for the README's results table.

The same data pipeline and optimizer as `mobilekernels train` (see Sources/mobilekernels/Train.swift
and Trainer.swift): Fashion-MNIST (or MNIST) read from the IDX .gz files, each 28x28 image padded
with black to 32x32 (or resized bilinearly, align_corners=False, to --size when that is not 32),
replicated to 3 channels, normalized with the training set's mean and std; training images are
randomly cropped from the image padded by 4 black pixels and flipped with probability 1/2; a new
shuffle each epoch; the last partial batch dropped. SGD with momentum 0.9, weight decay 5e-4 on
convolution and linear weights only (not on BatchNorm parameters and biases), the learning rate
set every step (linear warm-up, then cosine to 0 over the whole run). The models are
models_common.build's (torchvision's or the specs' reference definitions), initialized as
`mobilekernels train` initializes ours (`WeightSource.initialization`: Kaiming normal with fan_out
for convolutions, N(0, 0.01) for linear layers, zero biases, BatchNorm 1 and 0; for ShuffleNetV1,
unless --no-zero-init-residual, the BatchNorm ending each residual branch starts at scale 0).

Writes a JSON log in the format `mobilekernels train --log` writes, which `mobilekernels plot`
reads, and the final weights as safetensors when --output is given (with the metadata
`mobilekernels eval` reads: stem stride, stem pool for ShuffleNetV1, size, mean, std).
--stem-stride 1 and (ShuffleNetV1) --no-stem-pool are the small-image variants of
`mobilekernels train` (`variant` below). The batches are assembled on the
timed path (ours on a background thread): about 1-2% of PyTorch's step here.

Needs (installs nothing): pip install torch==2.13.0 torchvision==0.28.0 safetensors
Usage: python3 Benchmarks/training/torch_train.py --model mobilenet_v2 [--epochs 10] [--batch 128]
       [--lr 0.05] [--threads 2] [--layout channels_last|nchw] [--seed 0] [--log run.json]
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "onnxruntime"))
import models_common as mc  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    import numpy as np
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    values = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if values.size != math.prod(dims):
        raise SystemExit(f"{path}: {values.size} values for dimensions {dims}")
    return values.reshape(dims)


def load(directory, split):
    prefix = "train" if split == "train" else "t10k"
    def find(kind):
        for name in (f"{prefix}-{kind}-ubyte.gz", f"{prefix}-{kind}-ubyte"):
            if os.path.exists(os.path.join(directory, name)):
                return os.path.join(directory, name)
        raise SystemExit(f"no {prefix}-{kind}-ubyte[.gz] in {directory}")
    images, labels = read_idx(find("images-idx3")), read_idx(find("labels-idx1"))
    if len(images) != len(labels):
        raise SystemExit(f"{directory}: {len(images)} images but {len(labels)} labels")
    return images, labels.astype("int64")


def to_size(images, size):
    """uint8 [N, 28, 28] -> float32 [N, 1, size, size] in [0, 1], as BatchLoader places them."""
    import torch
    x = torch.from_numpy(images.astype("float32") / 255).unsqueeze(1)
    h = x.shape[-1]
    if size == h:
        return x
    if size > h and size - h <= 8:
        lo = (size - h) // 2
        return torch.nn.functional.pad(x, (lo, size - h - lo, lo, size - h - lo))
    return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def initialize(model):
    import torch.nn as nn
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def zero_residual_branches(model):
    """`WeightSource.initialization(zeroResidualBranches: true)`: the BatchNorm that ends each
    residual branch starts with scale 0 (ShuffleNetV1's stride-1 units' bn3; the projection
    BatchNorm of torchvision's MobileNetV2/V3 blocks that add their input)."""
    import torch.nn as nn
    for m in model.modules():
        if (type(m).__name__ == "ShuffleUnitV1" and m.stride == 1) or getattr(m, "use_res_connect", False):
            last = [b for b in m.modules() if isinstance(b, nn.BatchNorm2d)][-1]
            nn.init.zeros_(last.weight)


def variant(model, stem_stride, stem_pool):
    """The small-image variants of `Architecture.make(_:stemStride:stemPool:)` on a models_common model:
    stem_stride 1 sets the first Conv2d's stride to 1; stem_pool False replaces ShuffleNetV1's max pool
    after it with an identity (its CIFAR form with stem_stride 1). The state_dict does not change."""
    import torch
    if stem_stride == 1:
        next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d)).stride = (1, 1)
    if not stem_pool:
        if not isinstance(getattr(model, "maxpool", None), torch.nn.MaxPool2d):
            raise SystemExit(f"{type(model).__name__} has no max pool after its first convolution to drop")
        model.maxpool = torch.nn.Identity()
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=mc.MODELS)
    ap.add_argument("--data-dir", default=FASHION)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=0, help="epochs of linear warm-up")
    ap.add_argument("--size", type=int, help="input size (default 32; AlexNet 64)")
    ap.add_argument("--stem-stride", type=int, default=2, choices=[1, 2],
                    help="1: the small-image variant (the first convolution's stride 1, as mobilekernels train --stem-stride 1)")
    ap.add_argument("--no-stem-pool", action="store_true",
                    help="ShuffleNetV1 without the max pool after the first convolution (with --stem-stride 1 its CIFAR form, "
                         "as mobilekernels train --no-stem-pool)")
    ap.add_argument("--zero-init-residual", action=argparse.BooleanOptionalAction, default=None,
                    help="start each residual branch's last BatchNorm scale at 0 (default: ShuffleNetV1 only, "
                         "as mobilekernels train)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layout", default="channels_last", choices=["channels_last", "nchw"])
    ap.add_argument("--no-flip", action="store_true", help="no horizontal flips (digits)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log", help="write the per-epoch log here (JSON)")
    ap.add_argument("--output", help="write the trained weights here (safetensors)")
    args = ap.parse_args()
    if args.stem_stride == 1 and args.model in ("alexnet", "vgg16"):
        raise SystemExit("--stem-stride 1 is the MobileNets' and ShuffleNetV1's small-image variant (mobilekernels train rejects it too)")
    if args.zero_init_residual and args.model in ("mobilenet_v1", "alexnet", "vgg16"):
        raise SystemExit(f"--zero-init-residual: {args.model} has no residual sums (only the MobileNetV2/V3s and ShuffleNetV1 do)")
    if args.no_stem_pool and args.model != "shufflenet_v1_g3":
        raise SystemExit("--no-stem-pool is ShuffleNetV1's (the other models have no max pool after the first convolution)")
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    size = args.size or (64 if args.model == "alexnet" else 32)

    train_images, train_labels = load(args.data_dir, "train")
    test_images, test_labels = load(args.data_dir, "test")
    raw = train_images.astype("float64") / 255
    mean, std = raw.mean(), raw.std()
    train_x, test_x = to_size(train_images, size), to_size(test_images, size)
    train_y, test_y = torch.from_numpy(train_labels), torch.from_numpy(test_labels)
    pad = 4
    padded = torch.nn.functional.pad(train_x, (pad, pad, pad, pad))

    model = variant(mc.build(args.model, num_classes=10), args.stem_stride, not args.no_stem_pool)
    initialize(model)
    zero_init_residual = args.zero_init_residual if args.zero_init_residual is not None else args.model.startswith("shufflenet")
    if zero_init_residual:
        zero_residual_branches(model)
    memory_format = torch.channels_last if args.layout == "channels_last" else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": args.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, momentum=args.momentum)
    loss_fn = torch.nn.CrossEntropyLoss()
    per_epoch = len(train_y) // args.batch
    total, warm = args.epochs * per_epoch, args.warmup * per_epoch

    def learning_rate(step):
        if step < warm:
            return args.lr * (step + 1) / warm
        return args.lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(total - warm, 1)))

    def batch_images(indices, augment):
        if not augment:
            x = train_x[indices]
        else:
            dy = rng.integers(0, 2 * pad + 1, len(indices))
            dx = rng.integers(0, 2 * pad + 1, len(indices))
            flips = rng.random(len(indices)) < 0.5
            crops = []
            for i, y0, x0, f in zip(indices, dy, dx, flips):
                crop = padded[i, :, y0:y0 + size, x0:x0 + size]
                crops.append(crop.flip(-1) if f and not args.no_flip else crop)
            x = torch.stack(crops)
        x = ((x - mean) / std).expand(-1, 3, -1, -1)
        return x.contiguous(memory_format=memory_format)

    def evaluate():
        model.eval()
        correct = 0
        with torch.no_grad():
            for start in range(0, len(test_y), 100):
                x = ((test_x[start:start + 100] - mean) / std).expand(-1, 3, -1, -1).contiguous(memory_format=memory_format)
                correct += (model(x).argmax(1) == test_y[start:start + 100]).sum().item()
        model.train()
        return correct / len(test_y)

    log = {"framework": "pytorch " + torch.__version__, "model": args.model, "data": os.path.basename(args.data_dir.rstrip("/")),
           "size": size, "stem_stride": args.stem_stride,
           **({"stem_pool": not args.no_stem_pool} if args.model == "shufflenet_v1_g3" else {}), "zero_init_residual": zero_init_residual, "batch": args.batch, "threads": args.threads, "lr": args.lr, "layout": args.layout, "epochs": []}
    print(f"{args.model} (PyTorch {torch.__version__}, {args.layout}), {size}x{size}, batch {args.batch}, "
          f"{args.threads} thread(s), {args.epochs} epochs, SGD lr {args.lr} cosine", flush=True)
    step, elapsed = 0, 0.0
    for epoch in range(1, args.epochs + 1):
        order = torch.from_numpy(rng.permutation(len(train_y)))
        begin = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(per_epoch):
            indices = order[b * args.batch:(b + 1) * args.batch]
            x, y = batch_images(indices.numpy(), augment=True), train_y[indices]
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step)
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = loss_fn(logits, y)
            loss.backward()
            optimizer.step()
            step += 1
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        seconds = time.perf_counter() - begin
        elapsed += seconds
        accuracy = evaluate()
        row = {"epoch": epoch, "train_loss": loss_sum / seen, "train_accuracy": correct / seen, "test_accuracy": accuracy,
               "images_per_s": seen / seconds, "seconds": seconds, "elapsed_s": elapsed}
        log["epochs"].append(row)
        print(f"epoch {epoch}/{args.epochs}: train loss {row['train_loss']:.4f}, train accuracy {100 * row['train_accuracy']:.2f}%, "
              f"test accuracy {100 * accuracy:.2f}%, {row['images_per_s']:.0f} images/s ({seconds:.1f} s)", flush=True)
        if args.log:
            # A diverged loss is NaN or infinite: written as the strings TrainingLog.read takes.
            def finite(v):
                return v if not isinstance(v, float) or math.isfinite(v) else ("nan" if v != v else ("inf" if v > 0 else "-inf"))
            with open(args.log, "w") as f:
                json.dump({**log, "epochs": [{k: finite(v) for k, v in e.items()} for e in log["epochs"]]}, f, indent=1)
    if args.output:
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, args.output,
                  metadata={"model": args.model, "stem_stride": str(args.stem_stride), "size": str(size),
                            **({"stem_pool": str(not args.no_stem_pool).lower()} if args.model == "shufflenet_v1_g3" else {}),
                            "mean": str(float(mean)), "std": str(float(std))})
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

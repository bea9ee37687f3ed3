#!/usr/bin/env python3
"""Our training gradients against PyTorch's autograd, whole networks.

For each model (the seven of ../onnxruntime/models_common.py), with K classes (--classes, default
10):
  1. the PyTorch network is built by the constructors models_common uses (torchvision's, or
     ../../../shared/specs/reference_models.py for mobilenet_v1 and shufflenet_v1_g3) with
     num_classes=K and seeded as models_common seeds it (torch.manual_seed, the constructors' own
     initialization, then models_common.randomize_batchnorm for BatchNorm's affine parameters and
     running statistics); the input X is float32 [N, 3, S, S] from a seeded normal, the labels Y
     int64 [N] seeded in [0, K);
  2. PyTorch's loss and gradients: model.train() (BatchNorm on batch statistics; it also updates
     its running statistics, which does not matter here) with every Dropout module put back in
     eval() (dropout off), nn.CrossEntropyLoss() (mean over the batch), loss.backward(); in
     float32 (the reference) and in float64 (to judge the case, below);
  3. the state_dict (running statistics and num_batches_tracked included, as models_common saves
     it), X.npy and Y.npy go to a temporary folder, and for every --threads T
        mobilekernels grad --model NAME --weights W.safetensors --input X.npy --labels Y.npy
                           --classes K --output G.safetensors --threads T
     is run (wall time measured); G must hold float32 `loss` [1] and one gradient per parameter
     under its state_dict name and shape (no running statistics, no num_batches_tracked);
  4. compared: per tensor max|ours - torch| / max|torch|, the loss as |ours - torch| / |torch|,
     and the key sets exactly.

Two properties of these networks make a plain float32-vs-float32 comparison fail for a correct
implementation; the script handles them as follows (README.md has the measurements):
  * Structurally zero gradients. The bias of a BatchNorm whose output reaches the loss only
    through 1x1 convolutions into training-mode BatchNorms (MobileNetV2's and V3's projection
    BatchNorms, ShuffleNet's bn2) has an exact gradient of 0, and PyTorch's float32 value is
    rounding noise. A tensor whose float64 gradient is at most 1e-12 of the network's largest is
    measured as max|ours - torch| / max|torch gradient of the same module's weight|.
  * Ill-conditioned cases. At small batches training BatchNorm amplifies rounding, and a value
    within rounding of a ReLU/ReLU6/hard-swish/hard-sigmoid kink or of a max-pool tie flips
    between two correct float32 computations and moves whole gradients by 1e-2 or more. A case
    (model, seed) is used only if PyTorch's float32 gradients, in both of its layouts (NCHW and
    channels_last: two float32 paths of the same math), are within half the targets of its
    float64 ones (every tensor within 5e-4, the loss within 5e-6); otherwise the next seed is
    tried (--tries). (One float32 path agreeing with float64 is not enough: on VGG16 seed 0
    PyTorch's NCHW float32 is within 1.8e-6 of float64 while its channels_last float32 is 8.6e-3
    off on features.14.weight.) The seed used is printed. That does not stop OUR float32 from flipping a
    kink that PyTorch's did not, so when a run misses the gradient target, the --explain values
    nearest a kink (relative to their op's largest input) are flipped one at a time in PyTorch's
    float64 backward; if one flip brings every tensor of ours within 1e-3, the run passes and the
    flip is printed. A wrong gradient is not explained by one flip; it also fails on every seed
    (--cases 3).

Prints one markdown row per case and a PASS/FAIL line per target: every gradient tensor within
1e-3, the loss within 1e-5, the keys and formats exact, the command ran, and (with --threads 1,2)
1 and 2 threads bit-identical. Exit status 1 on any failure.

Needs (installs nothing): pip install torch==2.13.0 torchvision==0.28.0 safetensors numpy
Usage: python3 Benchmarks/training/grad_check.py [--models mobilenet_v2,vgg16] [--threads 1,2]
       [--size 32] [--batch 8] [--classes 10] [--seed 0] [--tries 10] [--cases 1] [--explain 8]
       [--json out.json]
       python3 Benchmarks/training/grad_check.py --torch-only --work DIR   # the PyTorch half only
"""
import argparse
import copy
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "onnxruntime"))
import models_common as mc  # noqa: E402

SCRIPT = "grad_check.py"
TENSOR_LIMIT = 1e-3
LOSS_LIMIT = 1e-5
# A case is used when PyTorch's float32 is within limit / CONDITION_MARGIN of its float64.
CONDITION_MARGIN = 2
# A gradient whose float64 value is at most ZERO_RATIO x the network's largest is structurally 0.
ZERO_RATIO = 1e-12
DEFAULT_SIZE = 32
DEFAULT_BATCH = 8
# The smallest input a model takes, and what it gets when --size is below that and the model is
# not named in --size: AlexNet's features need 63 (11x11 s4 then three 3x3 s2 max pools).
MIN_SIZE = {"alexnet": (63, 64)}


# ----------------------------------------------------------------------------------------------
# Options

def parse_sizes(text, models):
    """"32" -> 32 for every model (AlexNet raised to 64); "32,alexnet=96" -> 96 for AlexNet."""
    default, named = DEFAULT_SIZE, {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, _, value = item.rpartition("=")
        if name.strip():
            named[name.strip()] = int(value)
        else:
            default = int(value)
    sizes, notes = {}, []
    for m in models:
        lowest, fallback = MIN_SIZE.get(m, (1, 1))
        if m in named:
            if named[m] < lowest:
                sys.exit(f"{SCRIPT}: {m} needs an input of at least {lowest}x{lowest} (--size {m}={named[m]})")
            sizes[m] = named[m]
        elif default < lowest:
            sizes[m] = fallback
            notes.append(f"{m} at {fallback}x{fallback} (needs at least {lowest})")
        else:
            sizes[m] = default
    return sizes, notes


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(mc.MODELS), help="comma list (default: all seven)")
    ap.add_argument("--size", default=str(DEFAULT_SIZE),
                    help="input height = width: S for every model, or S,model=S2 (default 32; AlexNet needs "
                         "63 and gets 64 unless named)")
    ap.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                    help=f"batch N (default {DEFAULT_BATCH}; at 4, PyTorch's own float32 misses the targets for "
                         "most seeds of MobileNetV1/V2 and ShuffleNet, see README.md)")
    ap.add_argument("--classes", type=int, default=10, help="classes K of the last layer (default 10)")
    ap.add_argument("--threads", default="1", help="thread counts to run ours with, e.g. 1,2 (default 1)")
    ap.add_argument("--seed", type=int, default=0, help="first seed of weights, input and labels (default 0)")
    ap.add_argument("--tries", type=int, default=10,
                    help="seeds tried per model from --seed to find well-conditioned cases (default 10; "
                         "--tries 1 uses exactly --seed)")
    ap.add_argument("--cases", type=int, default=1, help="well-conditioned seeds checked per model (default 1)")
    ap.add_argument("--explain", type=int, default=8,
                    help="on a gradient failure, flip the N values nearest a kink one at a time in PyTorch's "
                         "float64 and count the case as passed if one flip matches ours (default 8; 0 = off)")
    ap.add_argument("--binary", default=os.path.join(mc.ROOT, ".build", "release", "mobilekernels"))
    ap.add_argument("--reference", choices=("float32", "float64"), default="float32",
                    help="which PyTorch gradients the targets compare with (default float32)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per grad command (default 1800)")
    ap.add_argument("--torch-only", action="store_true",
                    help="the PyTorch half only: cases, files, loss and gradients; no binary, no targets")
    ap.add_argument("--work", help="write the files here and keep them (default: a temporary folder, deleted); "
                                   "PyTorch's float32 loss and gradients go to NAME.sSEED.torch.safetensors "
                                   "in G's layout")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--json", help="write the rows and targets here")
    args = ap.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in mc.MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(mc.MODELS)}")
    args.sizes, args.size_notes = parse_sizes(args.size, args.models)
    try:
        args.threads = [int(t) for t in args.threads.split(",") if t.strip()]
    except ValueError:
        ap.error(f"--threads takes a comma list of integers, not {args.threads!r}")
    if not args.threads or min(args.threads) < 1:
        ap.error("--threads needs at least one count >= 1")
    if min(args.batch, args.classes, args.tries, args.cases) < 1:
        ap.error("--batch, --classes, --tries and --cases must be >= 1")
    if not args.torch_only and not os.access(args.binary, os.X_OK):
        sys.exit(f"{SCRIPT}: no mobilekernels binary at {args.binary}\n"
                 "build it with: swift build -c release --product mobilekernels "
                 "(or run --torch-only for the PyTorch half)")
    return args


# ----------------------------------------------------------------------------------------------
# PyTorch

def make_case(name, size, batch, classes, seed):
    """The model (models_common's seeding: one generator for BatchNorm, torch.manual_seed for the
    constructors' initialization), its state_dict as saved, X and Y."""
    import torch
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = mc.build(name, num_classes=classes)
    mc.randomize_batchnorm(model, generator)
    x = torch.randn(batch, 3, size, size, generator=generator, dtype=torch.float32)
    y = torch.randint(0, classes, (batch,), generator=generator, dtype=torch.int64)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    return model, state, x, y


def dropout_off_train_mode(model):
    """model.train(), then every dropout module back to eval(): BatchNorm on batch statistics,
    dropout the identity. Returns the number of dropout modules."""
    import torch
    model.train()
    count = 0
    for m in model.modules():
        if isinstance(m, torch.nn.modules.dropout._DropoutNd):  # nn.Dropout and its siblings
            m.eval()
            count += 1
    return count


def torch_pass(model, x, y):
    """One forward and backward: the loss and every parameter's gradient (numpy)."""
    import torch
    dropouts = dropout_off_train_mode(model)
    model.zero_grad(set_to_none=True)
    loss = torch.nn.CrossEntropyLoss()(model(x), y)
    loss.backward()
    grads = {}
    for name, p in model.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        grads[name] = g.detach().numpy().copy()
    return float(loss.item()), grads, dropouts


def torch_case(name, size, batch, classes, seed):
    """A case and PyTorch's answers in float32 (the reference) and float64 (the judge of the
    case): the structurally zero tensors, PyTorch's own float32 error per tensor and on the loss,
    and why the case is rejected (nothing: it is well-conditioned)."""
    import numpy as np
    import torch
    t0 = time.perf_counter()
    model, state, x, y = make_case(name, size, batch, classes, seed)
    params = {n for n, _ in model.named_parameters()}
    outside = params - set(state)
    assert not outside, f"parameters outside the state_dict: {sorted(outside)}"
    model64 = copy.deepcopy(model).to(torch.float64)
    model_cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    try:
        loss32, g32, dropouts = torch_pass(model, x, y)
        loss64, g64, _ = torch_pass(model64, x.to(torch.float64), y)
        loss_cl, g_cl, _ = torch_pass(model_cl, x.contiguous(memory_format=torch.channels_last), y)
    except (ValueError, RuntimeError) as e:  # e.g. training BatchNorm on one value per channel
        sys.exit(f"{SCRIPT}: PyTorch fails on {name} at {batch}x3x{size}x{size}: {e}")
    del model, model64, model_cl
    top = max(float(np.abs(v).max()) for v in g64.values())
    zero = sorted(n for n, v in g64.items() if float(np.abs(v).max()) <= ZERO_RATIO * top)
    floors = {n: tensor_error(g32[n], g64[n], zero_scale(n, g64, zero, top))[0] for n in g64}
    floors_cl = {n: tensor_error(g_cl[n], g64[n], zero_scale(n, g64, zero, top))[0] for n in g64}
    loss_floor = max(abs(l - loss64) / abs(loss64) if loss64 else abs(l) for l in (loss32, loss_cl))
    worst_floor = max(floors.items(), key=lambda kv: kv[1])
    worst_cl = max(floors_cl.items(), key=lambda kv: kv[1])
    reasons = []
    if worst_floor[1] > TENSOR_LIMIT / CONDITION_MARGIN:
        reasons.append(f"PyTorch float32 vs float64 {worst_floor[1]:.1e} on {worst_floor[0]}")
    if worst_cl[1] > TENSOR_LIMIT / CONDITION_MARGIN:
        reasons.append(f"PyTorch float32 channels_last vs float64 {worst_cl[1]:.1e} on {worst_cl[0]}")
    if loss_floor > LOSS_LIMIT / CONDITION_MARGIN:
        reasons.append(f"loss float32 vs float64 {loss_floor:.1e}")
    return {"name": name, "seed": seed, "state": state, "x": x, "y": y, "loss32": loss32, "loss64": loss64,
            "g32": g32, "g64": g64, "zero": zero, "top64": top, "worst_floor": worst_floor, "worst_cl": worst_cl,
            "loss_floor": loss_floor, "reasons": reasons, "conditioned": not reasons, "dropouts": dropouts,
            "seconds": time.perf_counter() - t0}


def cases(args, name):
    """Yields (case, seeds rejected so far): the first --cases well-conditioned seeds from --seed
    within --tries; if there is none, the least bad one (flagged). One case in memory at a time."""
    found, rejected, fallback = 0, [], None
    for seed in range(args.seed, args.seed + args.tries):
        case = None  # the previous case's gradients go before the next are computed
        case = torch_case(name, args.sizes[name], args.batch, args.classes, seed)
        if case["conditioned"]:
            found += 1
            yield case, list(rejected)
            if found == args.cases:
                return
            continue
        rejected.append({"seed": seed, "reasons": case["reasons"]})
        print(f"  {name} seed {seed} rejected: {'; '.join(case['reasons'])}", flush=True)
        score = max(case["worst_floor"][1] / TENSOR_LIMIT, case["worst_cl"][1] / TENSOR_LIMIT,
                    case["loss_floor"] / LOSS_LIMIT)
        if fallback is None or score < fallback[0]:
            fallback = (score, seed)
        del case
    if found == 0:
        yield torch_case(name, args.sizes[name], args.batch, args.classes, fallback[1]), rejected
    else:
        print(f"  {name}: only {found} well-conditioned seed(s) in {args.tries} tries", flush=True)


# ----------------------------------------------------------------------------------------------
# Comparison

def zero_scale(name, reference, zero, top):
    """The denominator for a structurally zero gradient: max|reference| of the same module's
    `weight` gradient (the bias's natural scale), else of the whole network. None otherwise."""
    import numpy as np
    if name not in zero:
        return None
    sibling = name.rsplit(".", 1)[0] + ".weight"
    if sibling in reference and sibling not in zero:
        return float(np.abs(reference[sibling]).max())
    return top


def tensor_error(got, want, scale=None):
    """max|got - want| / max|want| in float64 (or / `scale` when given; max|got - want| when the
    denominator is 0); inf for NaN. Returns (error, whether the denominator was 0)."""
    import numpy as np
    want = np.asarray(want, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    if want.size == 0:
        return 0.0, False
    diff = float(np.max(np.abs(got - want)))
    denominator = float(np.max(np.abs(want))) if scale is None else scale
    zero = denominator == 0.0
    error = diff if zero else diff / denominator
    return (math.inf if math.isnan(error) else error), zero


def compare(got, want_loss, want_grads, scales):
    """One run's G against PyTorch: loss error, per-tensor errors, key and format problems.
    `scales` gives the denominator of the structurally zero tensors."""
    import numpy as np
    result = {"missing": sorted(set(want_grads) - set(got)),
              "extra": sorted(set(got) - set(want_grads) - {"loss"}),
              "format": [], "errors": {}, "zero_denominator": [], "loss": None, "loss_error": math.inf}
    loss = got.get("loss")
    if loss is None:
        result["format"].append("no `loss` tensor")
    else:
        if loss.shape != (1,) or loss.dtype != np.float32:
            result["format"].append(f"loss is {loss.dtype} {list(loss.shape)}, want float32 [1]")
        if loss.size >= 1:
            result["loss"] = float(loss.reshape(-1)[0])
            e = abs(result["loss"] - want_loss) / abs(want_loss) if want_loss != 0 else abs(result["loss"])
            result["loss_error"] = math.inf if math.isnan(e) else e
    for name, want in want_grads.items():
        if name not in got:
            continue
        g = got[name]
        if g.dtype != np.float32:
            result["format"].append(f"{name} is {g.dtype}, want float32")
        if tuple(g.shape) != tuple(want.shape):
            result["format"].append(f"{name} has shape {list(g.shape)}, want {list(want.shape)}")
            result["errors"][name] = math.inf
            continue
        result["errors"][name], zero = tensor_error(g, want, scales.get(name))
        if zero:
            result["zero_denominator"].append(name)
    return result


def digests(tensors):
    """sha256 of every tensor's dtype, shape and bytes: equal digests = bit-identical outputs."""
    out = {}
    for name, t in tensors.items():
        h = hashlib.sha256(f"{t.dtype.str}{list(t.shape)}".encode())
        h.update(t.tobytes())
        out[name] = h.hexdigest()
    return out


def run_ours(args, stem, name, files, threads):
    """One `mobilekernels grad` process; returns (tensors or None, seconds, failure text)."""
    from safetensors.numpy import load_file
    out = os.path.join(files["dir"], f"{stem}.grads.{threads}t.safetensors")
    if os.path.exists(out):
        os.remove(out)
    cmd = [args.binary, "grad", "--model", name, "--weights", files["weights"], "--input", files["x"],
           "--labels", files["y"], "--classes", str(args.classes), "--output", out, "--threads", str(threads)]
    t0 = time.perf_counter()
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - t0, f"timed out after {args.timeout:.0f} s: {' '.join(cmd)}"
    seconds = time.perf_counter() - t0
    if run.returncode != 0:
        tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-15:])
        return None, seconds, f"exit status {run.returncode}: {' '.join(cmd)}\n{tail}"
    try:
        tensors = load_file(out)
    except Exception as e:  # missing or malformed file
        return None, seconds, f"cannot read {out}: {e}"
    if not args.keep and not args.work:
        os.remove(out)
    return tensors, seconds, None


# ----------------------------------------------------------------------------------------------
# Kink flips: explaining a failure

KINK_OPS = ("relu", "hardtanh", "hardswish", "hardsigmoid", "max_pool2d")


def _arg(args, kwargs, i, key, default):
    return args[i] if len(args) > i else kwargs.get(key, default)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _kinks(op, args, kwargs):
    """The points where `op`'s derivative jumps (pointwise ops)."""
    if op == "relu":
        return (0.0,)
    if op == "hardtanh":
        return (float(_arg(args, kwargs, 1, "min_val", -1.0)), float(_arg(args, kwargs, 2, "max_val", 1.0)))
    return (-3.0, 3.0)  # hardswish, hardsigmoid


def _derivative(op, u, kinks):
    """PyTorch's derivative of `op` at u (a float), as its backward kernels define it."""
    if op == "relu":
        return 1.0 if u > 0 else 0.0
    if op == "hardtanh":
        return 1.0 if kinks[0] < u < kinks[1] else 0.0
    if op == "hardswish":
        return 0.0 if u < -3 else (u / 3 + 0.5 if u <= 3 else 1.0)
    return 1.0 / 6 if -3 < u < 3 else 0.0  # hardsigmoid


def _pool_geometry(args, kwargs):
    kh, kw = _pair(_arg(args, kwargs, 1, "kernel_size", None))
    stride = _arg(args, kwargs, 2, "stride", None)
    sh, sw = _pair(stride) if stride not in (None, []) else (kh, kw)
    ph, pw = _pair(_arg(args, kwargs, 3, "padding", 0))
    plain = _pair(_arg(args, kwargs, 4, "dilation", 1)) == (1, 1) and not kwargs.get("ceil_mode", False)
    return (kh, kw, sh, sw, ph, pw) if plain else None


def _pool_windows(u, geometry):
    """Every window's two largest values and their input positions (flat indices into u)."""
    import torch
    import torch.nn.functional as F
    kh, kw, sh, sw, ph, pw = geometry
    n, c, h, w = u.shape
    index = torch.arange(h * w, dtype=torch.float64).view(1, 1, h, w).expand(n, c, h, w)
    cols = F.unfold(F.pad(u, (pw, pw, ph, ph), value=-math.inf), (kh, kw), stride=(sh, sw)).view(n, c, kh * kw, -1)
    where = F.unfold(F.pad(index, (pw, pw, ph, ph), value=-1.0), (kh, kw), stride=(sh, sw)).view(n, c, kh * kw, -1)
    top = cols.topk(2, dim=2)
    positions = where.gather(2, top.indices).long()
    base = (torch.arange(n).view(n, 1, 1) * c + torch.arange(c).view(1, c, 1)) * (h * w)
    return top.values, positions + base.unsqueeze(2)


class _ModuleStack:
    """Which module is running (innermost first), for naming a kink op: forward pre-hooks push,
    forward hooks pop."""

    def __init__(self, model):
        self.names, self.handles = [], []
        for name, m in model.named_modules():
            self.handles.append(m.register_forward_pre_hook(lambda mod, inp, name=name: self.push(name)))
            self.handles.append(m.register_forward_hook(lambda mod, inp, out: self.pop()))

    def push(self, name):  # hooks must return None (a forward hook's result replaces the output)
        self.names.append(name)

    def pop(self):
        self.names.pop()

    def current(self):
        return self.names[-1] if self.names else ""

    def remove(self):
        for h in self.handles:
            h.remove()


def kink_mode(flips=None, candidates=None, stack=None):
    """A TorchFunctionMode over the ReLU/Hardtanh(ReLU6)/hard-swish/hard-sigmoid/max-pool calls
    (modules and functional calls alike: nn.ReLU calls F.relu, nn.ReLU6 F.hardtanh, ShuffleNet
    F.relu itself). With `candidates` (a list) it collects, per call, the values nearest a kink
    (pointwise ops) and the windows whose two largest values are nearest a tie (max pools). With
    `flips` ({call: [candidate]}) it makes the backward take the other side at those points
    (the forward values do not change)."""
    import torch
    from torch.overrides import TorchFunctionMode

    class Mode(TorchFunctionMode):
        calls = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            op = getattr(func, "__name__", "")
            if (op not in KINK_OPS or not args or not isinstance(args[0], torch.Tensor)
                    or (op == "max_pool2d" and args[0].dim() != 4)):
                return func(*args, **kwargs)
            call, Mode.calls = Mode.calls, Mode.calls + 1
            u = args[0]
            if candidates is not None:
                self.collect(call, op, args, kwargs, u.detach().to(torch.float64))
            if not flips or call not in flips:
                return func(*args, **kwargs)
            if op == "max_pool2d":
                out = func(*args, **kwargs)
                flat_u, flat_out = u.reshape(-1), out.reshape(-1)
                for f in flips[call]:
                    diff = flat_u[f["second"]] - flat_u[f["first"]]
                    flat_out = flat_out.index_add(0, torch.tensor([f["window"]]), (diff - diff.detach()).reshape(1))
                return flat_out.view(out.shape)
            if op == "relu":
                out = torch.relu(u)
            elif op == "hardtanh":
                out = torch.nn.functional.hardtanh(u, *_kinks(op, args, kwargs))
            else:
                out = getattr(torch.nn.functional, op)(u)
            delta = torch.zeros(u.numel(), dtype=u.dtype)
            for f in flips[call]:
                delta[f["index"]] = f["jump"]
            return out + (u - u.detach()) * delta.view(u.shape)

        def collect(self, call, op, args, kwargs, u, per_call=4):
            scale = float(u.abs().max()) if u.numel() else 0.0
            if scale == 0.0:
                return
            where = stack.current() if stack else ""
            if op == "max_pool2d":
                geometry = _pool_geometry(args, kwargs)
                if geometry is None:
                    return
                values, positions = _pool_windows(u, geometry)
                gap = (values[:, :, 0] - values[:, :, 1]).reshape(-1)
                gap = torch.where(gap > 0, gap, torch.full_like(gap, math.inf))  # exact ties: both sides agree
                for w in torch.topk(gap, min(per_call, gap.numel()), largest=False).indices.tolist():
                    if math.isfinite(float(gap[w])):
                        candidates.append({"call": call, "op": op, "module": where, "window": w,
                                           "first": int(positions[:, :, 0].reshape(-1)[w]),
                                           "second": int(positions[:, :, 1].reshape(-1)[w]),
                                           "distance": float(gap[w]), "relative": float(gap[w]) / scale})
                return
            kinks = _kinks(op, args, kwargs)
            flat = u.reshape(-1)
            d = torch.stack([(flat - k).abs() for k in kinks]).min(0).values
            for i in torch.topk(d, min(per_call, d.numel()), largest=False).indices.tolist():
                value = float(flat[i])
                k = min(kinks, key=lambda k: abs(value - k))
                here = _derivative(op, value, kinks)
                there = _derivative(op, k + (k - value) if value != k else k - 1e-12, kinks)
                if here != there:
                    candidates.append({"call": call, "op": op, "module": where, "index": i, "value": value,
                                       "kink": k, "jump": there - here, "distance": float(d[i]),
                                       "relative": float(d[i]) / scale})

    return Mode()


def flipped_gradients(name, size, batch, classes, seed, flips=None, candidates=None):
    """PyTorch's float64 gradients of the case, with `flips` applied (see kink_mode)."""
    import torch
    model, _, x, y = make_case(name, size, batch, classes, seed)
    model = model.to(torch.float64)
    stack = _ModuleStack(model) if candidates is not None else None
    dropout_off_train_mode(model)
    with kink_mode(flips, candidates, stack):
        loss = torch.nn.CrossEntropyLoss()(model(x.to(torch.float64)), y)
    loss.backward()
    if stack:
        stack.remove()
    return {n: p.grad.detach().numpy().copy() for n, p in model.named_parameters()}


def explain(args, case, got, tries):
    """Whether one kink flip explains our failing gradients: the `tries` values nearest a kink
    (relative to their call's largest value) are flipped one at a time in PyTorch's float64, and
    ours compared with each. Returns the flip that brings every tensor within the limit, or None."""
    name, seed = case["name"], case["seed"]
    size = args.sizes[name]
    candidates = []
    flipped_gradients(name, size, args.batch, args.classes, seed, candidates=candidates)
    candidates.sort(key=lambda c: c["relative"])
    for c in candidates[:tries]:
        g = flipped_gradients(name, size, args.batch, args.classes, seed, flips={c["call"]: [c]})
        top = max(float(abs(v).max()) for v in g.values())
        worst = max(tensor_error(got[n], g[n], zero_scale(n, g, case["zero"], top))[0]
                    for n in g if n in got and tuple(got[n].shape) == g[n].shape)
        if worst <= TENSOR_LIMIT:
            return {**c, "worst_after": worst}
    return None


def describe_flip(f):
    where = f" in {f['module']}" if f["module"] else ""
    if f["op"] == "max_pool2d":
        return (f"max_pool2d call {f['call']}{where}, window {f['window']}: its two largest values "
                f"{f['distance']:.1e} apart ({f['relative']:.0e} of the largest)")
    return (f"{f['op']} call {f['call']}{where}, element {f['index']}: {f['value']:.2e}, "
            f"{f['relative']:.0e} of the largest from the kink at {f['kink']:g}")


# ----------------------------------------------------------------------------------------------
# One case

def check_case(args, case, rejected, work):
    import numpy as np
    import torch
    from safetensors.torch import save_file
    name, size = case["name"], args.sizes[case["name"]]
    stem = f"{name}.s{case['seed']}"
    row = {"model": name, "size": size, "batch": args.batch, "classes": args.classes, "seed": case["seed"],
           "rejected_seeds": rejected, "conditioned": case["conditioned"], "reasons": case["reasons"],
           "loss_torch": case["loss32"], "loss_torch64": case["loss64"], "tensors": len(case["g32"]),
           "parameters": int(sum(v.size for v in case["g32"].values())), "dropout_modules": case["dropouts"],
           "zero_tensors": case["zero"], "torch_f32_vs_f64": case["worst_floor"][1],
           "torch_f32_vs_f64_tensor": case["worst_floor"][0], "torch_loss_f32_vs_f64": case["loss_floor"],
           "torch_f32_channels_last_vs_f64": case["worst_cl"][1],
           "torch_seconds": case["seconds"], "runs": {}, "failures": []}
    files = {"dir": work, "weights": os.path.join(work, f"{stem}.safetensors"),
             "x": os.path.join(work, f"{stem}.x.npy"), "y": os.path.join(work, f"{stem}.y.npy")}
    save_file(case["state"], files["weights"])
    np.save(files["x"], case["x"].numpy().astype(np.float32))
    np.save(files["y"], case["y"].numpy().astype(np.int64))
    if args.work or args.keep:
        ref = {"loss": torch.tensor([case["loss32"]], dtype=torch.float32)}
        ref.update({k: torch.from_numpy(v).contiguous() for k, v in case["g32"].items()})
        save_file(ref, os.path.join(work, f"{stem}.torch.safetensors"))
    if args.torch_only:
        return row

    want, want_loss = (case["g64"], case["loss64"]) if args.reference == "float64" else (case["g32"], case["loss32"])
    top = max(float(np.abs(v).max()) for v in want.values())
    scales = {n: zero_scale(n, want, case["zero"], top) for n in case["zero"]}
    hashes = {}
    for t in args.threads:
        got, seconds, failure = run_ours(args, stem, name, files, t)
        run = {"seconds": seconds}
        row["runs"][t] = run
        if failure:
            run["failure"] = failure
            row["failures"].append(f"{t}T: {failure}")
            print(f"{name} {t}T: mobilekernels grad failed, {failure}", flush=True)
            continue
        c = compare(got, want_loss, want, scales)
        worst = max(c["errors"].items(), key=lambda kv: kv[1], default=(None, 0.0))
        vs64 = [tensor_error(got[n], case["g64"][n], zero_scale(n, case["g64"], case["zero"], case["top64"]))[0]
                for n in case["g64"] if n in got and tuple(got[n].shape) == case["g64"][n].shape]
        run.update({"loss": c["loss"], "loss_error": c["loss_error"], "worst_error": worst[1],
                    "worst_tensor": worst[0], "tensors": len(got) - ("loss" in got), "errors": c["errors"],
                    "missing": c["missing"], "extra": c["extra"], "format": c["format"],
                    "zero_denominator": c["zero_denominator"], "worst_vs_float64": max(vs64, default=None)})
        hashes[t] = digests(got)
        if args.explain and any(not e <= TENSOR_LIMIT for e in c["errors"].values()):
            same = [r for r in row["runs"].values() if "explained_by" in r and r["digest"] == hashes[t]]
            if same:
                run["explained_by"] = same[0]["explained_by"]
            else:
                print(f"  {name} seed {case['seed']} {t}T: worst tensor {worst[1]:.1e}; trying single kink flips "
                      f"(--explain {args.explain})", flush=True)
                run["explained_by"] = explain(args, case, got, args.explain)
            run["digest"] = hashes[t]
        del got
    ok = [r for r in row["runs"].values() if "failure" not in r]
    if ok:
        worst_run = max(ok, key=lambda r: (r["worst_error"], r["loss_error"]))
        row.update({k: worst_run[k] for k in ("loss", "worst_error", "worst_tensor", "worst_vs_float64")})
        row["loss_error"] = max(r["loss_error"] for r in ok)
        row["tensors_ours"] = worst_run["tensors"]
        row["explained"] = any(r.get("explained_by") for r in ok)
    if 1 in hashes and 2 in hashes:
        a, b = hashes[1], hashes[2]
        differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        row["identical_1t_2t"] = not differ
        row["differ_1t_2t"] = differ
    return row


# ----------------------------------------------------------------------------------------------
# Report

def fmt_err(e):
    return "-" if e is None else ("inf" if e == math.inf else f"{e:.1e}")


def fmt_s(s):
    return "-" if s is None else (f"{s:.1f}" if s >= 10 else f"{s:.2f}")


def print_table(args, rows):
    head = ["model", "size", "batch", "seed", "loss torch"]
    if not args.torch_only:
        head += ["loss ours", "loss rel. err", "worst tensor rel. err", "worst tensor"]
    head += ["tensors", "torch f32 (both layouts) vs f64"]
    head += ["zero grads", "torch s"] if args.torch_only else [f"ours {t}T s" for t in args.threads]
    print("| " + " | ".join(head) + " |")
    print("|---|" + "|".join("---" if h == "worst tensor" else "---:" for h in head[1:]) + "|")
    for r in rows:
        seed = str(r["seed"]) + ("" if r["conditioned"] else " (ill-cond.)")
        cells = [r["model"], str(r["size"]), str(r["batch"]), seed, f"{r['loss_torch']:.6f}"]
        if not args.torch_only:
            loss = r.get("loss")
            cells += ["-" if loss is None else f"{loss:.6f}", fmt_err(r.get("loss_error")),
                      fmt_err(r.get("worst_error")) + (" (kink flip)" if r.get("explained") else ""),
                      f"`{r['worst_tensor']}`" if r.get("worst_tensor") and r.get("worst_error") else "-"]
        n = str(r["tensors"])
        if not args.torch_only and r.get("tensors_ours") is not None and r["tensors_ours"] != r["tensors"]:
            n += f" (ours {r['tensors_ours']})"
        cells += [n, fmt_err(max(r["torch_f32_vs_f64"], r["torch_f32_channels_last_vs_f64"]))]
        if args.torch_only:
            cells += [str(len(r["zero_tensors"])), fmt_s(r["torch_seconds"])]
        else:
            cells += [fmt_s(r["runs"][t]["seconds"]) if t in r["runs"] else "-" for t in args.threads]
        print("| " + " | ".join(cells) + " |")
    print()


def targets(args, rows):
    out = {}
    subset = "" if set(args.models) == set(mc.MODELS) else f" [{len(args.models)} of {len(mc.MODELS)} models run]"
    label = lambda r: f"{r['model']} seed {r['seed']}" + ("" if r["conditioned"] else " [ill-conditioned]")  # noqa: E731

    def verdict(key, text, failures, measured=True, detail=""):
        status = "not measured" if not measured else ("FAIL" if failures else "PASS")
        out[key] = {"status": status, "failures": failures}
        extra = f": {'; '.join(failures)}" if failures else (f" ({detail})" if detail and measured else "")
        print(f"{status}: {text}{extra}{subset if measured else ''}")

    runs = [(r, t, run) for r in rows for t, run in r["runs"].items()]
    ok = [(r, t, run) for r, t, run in runs if "failure" not in run]
    verdict("ran", "mobilekernels grad ran and wrote a readable G for every case and thread count",
            [f"{label(r)} {t}T" for r, t, run in runs if "failure" in run])
    verdict("keys", "G holds `loss` and exactly the parameters' state_dict names (no running stats, "
                    "no num_batches_tracked), float32, parameter shapes",
            [f"{label(r)} {t}T" + (f" missing {run['missing']}" if run["missing"] else "")
             + (f" extra {run['extra']}" if run["extra"] else "")
             + (f" {'; '.join(run['format'][:5])}" + (" ..." if len(run["format"]) > 5 else "") if run["format"] else "")
             for r, t, run in ok if run["missing"] or run["extra"] or run["format"]],
            measured=bool(ok))
    tensor_fail, explained = [], []
    for r, t, run in ok:
        bad = sorted(((e, n) for n, e in run["errors"].items() if not e <= TENSOR_LIMIT), reverse=True)
        if bad:
            shown = ", ".join(f"{n} {fmt_err(e)}" for e, n in bad[:3])
            text = f"{label(r)} {t}T {len(bad)} tensor(s) ({shown}{', ...' if len(bad) > 3 else ''})"
            flip = run.get("explained_by")
            if flip:
                explained.append(f"{text}: matches PyTorch float64 within {fmt_err(flip['worst_after'])} with one "
                                 f"kink flipped, {describe_flip(flip)}")
            else:
                tensor_fail.append(text)
    worst = max((run["worst_error"] for _, _, run in ok if not run.get("explained_by")), default=0.0)
    verdict("gradients", f"every gradient tensor within {TENSOR_LIMIT:.0e} of PyTorch's {args.reference} "
                         "(max|ours - torch| / max|torch|; structurally zero ones / their module's weight "
                         "gradient)", tensor_fail, measured=bool(ok),
            detail=f"worst {fmt_err(worst)}" + (f"; {len(explained)} run(s) explained by a kink flip, below"
                                                if explained else ""))
    out["gradients"]["explained_by_kink_flip"] = explained
    for text in explained:
        print(f"  explained: {text}")
    worst_loss = max((run["loss_error"] for _, _, run in ok), default=0.0)
    verdict("loss", f"loss within {LOSS_LIMIT:.0e} of PyTorch's (|ours - torch| / |torch|)",
            [f"{label(r)} {t}T {fmt_err(run['loss_error'])}" for r, t, run in ok
             if not run["loss_error"] <= LOSS_LIMIT],
            measured=bool(ok), detail=f"worst {fmt_err(worst_loss)}")
    if 1 in args.threads and 2 in args.threads:
        compared = [r for r in rows if "identical_1t_2t" in r]
        verdict("threads", "1 and 2 threads write bit-identical G files",
                [f"{label(r)} ({len(r['differ_1t_2t'])} tensor(s) differ: {', '.join(r['differ_1t_2t'][:3])}"
                 f"{', ...' if len(r['differ_1t_2t']) > 3 else ''})" for r in compared if not r["identical_1t_2t"]],
                measured=bool(compared))
    if tensor_fail:
        print("hint: a value at a ReLU/ReLU6/hard-swish kink or a max-pool tie that our float32 rounds to the "
              "other side moves whole tensors by ~1e-2 on one seed; a wrong gradient fails on every seed. "
              "Rerun with --cases 3, or a larger --explain (README.md).")
    return out


def print_notes(rows):
    seen = set()
    for r in rows:
        if r["zero_tensors"] and r["model"] not in seen:
            seen.add(r["model"])
            print(f"note: {r['model']}: {len(r['zero_tensors'])} structurally zero gradient(s) "
                  f"({', '.join(r['zero_tensors'][:3])}{', ...' if len(r['zero_tensors']) > 3 else ''}), "
                  "measured against their module's weight gradient")
        if not r["conditioned"]:
            print(f"warning: {r['model']}: no well-conditioned seed in {len(r['rejected_seeds'])} tried; seed "
                  f"{r['seed']} used ({'; '.join(r['reasons'])}); its errors say little about our code. "
                  "Try another --seed, more --tries or a larger --batch.")


def versions():
    import numpy
    import safetensors
    import torch
    return {"python": platform.python_version(), "numpy": numpy.__version__, "torch": torch.__version__,
            "torchvision": mc.import_torchvision().__version__, "safetensors": safetensors.__version__}


def main(argv=None):
    args = parse_args(argv)
    mc.require(["numpy", "torch", "torchvision", "safetensors"], SCRIPT)
    import torch
    torch.set_num_threads(1)
    if args.work:
        os.makedirs(args.work, exist_ok=True)
        work = args.work
    else:
        work = tempfile.mkdtemp(prefix="mk-grad-check-")
    v = versions()
    print(f"Versions: torch {v['torch']}, torchvision {v['torchvision']}, numpy {v['numpy']}, "
          f"safetensors {v['safetensors']}, Python {v['python']}. "
          + ("PyTorch half only (--torch-only)." if args.torch_only else f"Binary {args.binary}, threads "
             f"{','.join(map(str, args.threads))}.")
          + f" Batch {args.batch}, classes {args.classes}; {args.cases} case(s) per model from seed {args.seed} "
          f"({args.tries} tries); targets against PyTorch {args.reference}; train-mode BatchNorm, dropout off, "
          "mean cross-entropy.")
    if args.size_notes:
        print("sizes: " + "; ".join(args.size_notes))
    print(f"files in {work}{'' if args.keep or args.work else ' (deleted at the end)'}", flush=True)
    rows = []
    try:
        for name in args.models:
            for case, rejected in cases(args, name):
                row = check_case(args, case, rejected, work)
                del case
                rows.append(row)
                head = (f"{name:20} {row['size']}x{row['size']} seed {row['seed']}"
                        f"{'' if row['conditioned'] else ' (ill-conditioned)'}: PyTorch f32 vs f64 "
                        f"{fmt_err(row['torch_f32_vs_f64'])}, loss {fmt_err(row['torch_loss_f32_vs_f64'])}, "
                        f"{len(row['zero_tensors'])} zero grad(s)")
                if args.torch_only:
                    print(f"{head}; loss {row['loss_torch']:.6f}, {row['tensors']} tensors ({row['parameters']} "
                          f"values), {row['dropout_modules']} dropout module(s) off ({row['torch_seconds']:.1f} s)",
                          flush=True)
                else:
                    print(f"{head}; ours: worst tensor {fmt_err(row.get('worst_error'))} "
                          f"({fmt_err(row.get('worst_vs_float64'))} vs float64), loss "
                          f"{fmt_err(row.get('loss_error'))}", flush=True)
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print_table(args, rows)
    verdicts = {} if args.torch_only else targets(args, rows)
    print_notes(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"versions": v, "binary": None if args.torch_only else args.binary,
                       "options": {"models": args.models, "sizes": args.sizes, "batch": args.batch,
                                   "classes": args.classes, "threads": args.threads, "seed": args.seed,
                                   "tries": args.tries, "cases": args.cases, "reference": args.reference,
                                   "torch_only": args.torch_only},
                       "limits": {"tensor": TENSOR_LIMIT, "loss": LOSS_LIMIT, "condition_margin": CONDITION_MARGIN,
                                  "zero_ratio": ZERO_RATIO},
                       "rows": rows, "targets": verdicts}, f, indent=1, default=str)
        print(f"wrote {args.json}")
    return 1 if any(t["status"] == "FAIL" for t in verdicts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared by models_check.py and side_by_side.py: the seven networks with random weights, their
files for `mobilekernels infer` (safetensors + .npy), the logits check and the ONNX export.

Installs nothing; `require()` names the pip command when a package is missing.
"""
import importlib
import importlib.util
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SPECS = os.path.join(os.path.dirname(ROOT), "shared", "specs", "reference_models.py")
MODELS = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "shufflenet_v1_g3", "alexnet", "vgg16"]
# torchvision 0.28.0 is the release built against torch 2.13.0; a bare `torchvision` would pull
# the newest one and, with it, a newer torch.
PIP_COMMAND = "pip install torch==2.13.0 torchvision==0.28.0 onnx onnxruntime openvino safetensors numpy"
PIP_NAMES = {"torch": "torch", "torchvision": "torchvision", "onnx": "onnx", "onnxruntime": "onnxruntime",
             "openvino": "openvino", "safetensors": "safetensors", "numpy": "numpy"}


def require(modules, script):
    """Exit with the pip command if any of `modules` cannot be imported."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        sys.exit(f"{script}: missing Python package(s): {', '.join(PIP_NAMES.get(m, m) for m in missing)}\n"
                 f"install them with:\n    {PIP_COMMAND}")


def import_torchvision():
    """torchvision, even when its C++ ops do not load.

    PyPI's torchvision wheels are CUDA builds: next to a CPU-only torch their _C.so does not load
    (libcudart missing), and torchvision 0.28's __init__ then fails on an unguarded
    register_fake("torchvision::nms"). The model definitions need none of those ops (only
    detection does), so on that failure the import is retried with torchvision's fake-kernel
    registrations skipped."""
    import torch
    import torch.library
    try:
        return importlib.import_module("torchvision")
    except RuntimeError as e:
        if "torchvision::" not in str(e):
            raise
    for key in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
        del sys.modules[key]
    real = torch.library.register_fake

    def tolerant(op, *args, **kwargs):
        if isinstance(op, str) and op.startswith("torchvision::"):
            return lambda fn=None, *a, **k: fn
        return real(op, *args, **kwargs)

    torch.library.register_fake = tolerant
    try:
        return importlib.import_module("torchvision")
    finally:
        torch.library.register_fake = real


def build(name, num_classes=1000):
    import torch  # noqa: F401
    if name in ("mobilenet_v1", "shufflenet_v1_g3"):
        spec = importlib.util.spec_from_file_location("reference_models", SPECS)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if name == "mobilenet_v1":
            return module.MobileNetV1(num_classes=num_classes)
        return module.ShuffleNetV1(groups=3, num_classes=num_classes)
    return getattr(import_torchvision().models, name)(weights=None, num_classes=num_classes)


def randomize_batchnorm(model, generator):
    import torch
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = 1 + 0.2 * (torch.rand(c, generator=generator) - 0.5)
            m.bias.data = 0.2 * (torch.rand(c, generator=generator) - 0.5)
            m.running_mean.data = 0.2 * (torch.rand(c, generator=generator) - 0.5)
            m.running_var.data = 1 + 0.4 * (torch.rand(c, generator=generator) - 0.5)


def rel_error(got, want):
    """The issue's measure: max |got - want| / max |want|."""
    import numpy as np
    return float(np.max(np.abs(np.asarray(got, dtype=np.float64) - want)) / np.max(np.abs(want)))


def prepare(name, work, binary, export=True):
    """Builds `name` (seeded random weights and BatchNorm statistics, eval mode), saves
    `work/name.safetensors` and the image `work/name.npy`, runs `binary infer` once and exports
    `work/name.onnx` (opset 17, TorchScript exporter). Returns a dict with the paths, the image
    `x` (numpy), PyTorch's logits `want` and our relative error `error`."""
    import numpy as np
    import torch
    from safetensors.torch import save_file
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = build(name)
    randomize_batchnorm(model, generator)
    model.eval()
    x = torch.rand(1, 3, 224, 224, generator=generator) * 2 - 1
    with torch.no_grad():
        want = model(x).numpy().astype(np.float64)
    weights = os.path.join(work, f"{name}.safetensors")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, weights)
    image = os.path.join(work, f"{name}.npy")
    np.save(image, x.numpy().astype(np.float32))
    out = os.path.join(work, f"{name}.out.npy")
    run = subprocess.run([binary, "infer", "--model", name, "--weights", weights, "--input", image,
                          "--output", out, "--threads", "1", "--repeat", "0"], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{name}: mobilekernels failed:\n{run.stdout}\n{run.stderr}")
    error = rel_error(np.load(out), want)
    onnx_path = os.path.join(work, f"{name}.onnx")
    if export:
        torch.onnx.export(model, x, onnx_path, input_names=["input"], output_names=["logits"],
                          opset_version=17, dynamo=False)
    return {"name": name, "weights": weights, "image": image, "onnx": onnx_path,
            "x": x.numpy().astype(np.float32), "want": want, "error": error}


def ort_session(path, threads):
    """ONNX Runtime as the benchmarks use it: CPU, T intra-op threads, 1 inter-op, ORT_ENABLE_ALL,
    sequential."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

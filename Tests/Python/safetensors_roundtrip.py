#!/usr/bin/env python3
"""Checks a safetensors file written by MobileKernels (SafeTensorsFile.write) with the reference
implementation: safetensors.torch.load_file when torch is installed, else safetensors.numpy.

    python3 Tests/Python/safetensors_roundtrip.py FILE EXPECTED.json

EXPECTED.json: {"tensors": [{"name", "shape", "bits"}], "metadata": {...}}, the tensors in the
order they were written, "bits" the float32 bit patterns (so NaN payloads and -0 compare
exactly). Also checks the header layout by hand: 8-byte little-endian length, JSON padded with
spaces to a multiple of 8, data_offsets contiguous from 0 in the written order.
Prints one line and exits 0 when everything matches, 1 otherwise.
"""
import json
import struct
import sys

import numpy as np
from safetensors import safe_open


def load(path):
    try:
        import torch  # noqa: F401
        from safetensors.torch import load_file
        return "torch", {k: v.numpy() for k, v in load_file(path).items()}
    except ImportError:
        from safetensors.numpy import load_file
        return "numpy", load_file(path)


def main(path, expected_path):
    with open(expected_path) as f:
        expected = json.load(f)
    errors = []

    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header_text = raw[8:8 + n].decode("utf-8")
    if n % 8 != 0:
        errors.append(f"header length {n} is not a multiple of 8")
    if not header_text.rstrip(" ").endswith("}"):
        errors.append("the header is not a JSON object padded with spaces")
    header = json.loads(header_text)
    offset = 0
    names = [k for k in header if k != "__metadata__"]
    if names != [t["name"] for t in expected["tensors"]]:
        errors.append(f"header order {names} is not the written order")
    for t in expected["tensors"]:
        entry = header.get(t["name"], {})
        size = 4 * len(t["bits"])
        if entry.get("data_offsets") != [offset, offset + size] or entry.get("dtype") != "F32":
            errors.append(f"{t['name']}: header entry {entry}, expected F32 at [{offset}, {offset + size}]")
        offset += size
    if len(raw) != 8 + n + offset:
        errors.append(f"file is {len(raw)} bytes, expected {8 + n + offset}")

    backend, tensors = load(path)
    if set(tensors) != {t["name"] for t in expected["tensors"]}:
        errors.append(f"names {sorted(tensors)} differ from {sorted(t['name'] for t in expected['tensors'])}")
    for t in expected["tensors"]:
        value = tensors.get(t["name"])
        if value is None:
            continue
        if value.dtype != np.float32 or list(value.shape) != t["shape"]:
            errors.append(f"{t['name']}: {value.dtype} {list(value.shape)}, expected float32 {t['shape']}")
            continue
        bits = np.ascontiguousarray(value).reshape(-1).view(np.uint32).tolist()
        if bits != t["bits"]:
            errors.append(f"{t['name']}: bits {bits[:8]} differ from {t['bits'][:8]}")

    with safe_open(path, "np") as f:
        metadata = f.metadata() or {}
        # By offset (empty tensors, which share offsets, are ordered by name there).
        filled = [t["name"] for t in expected["tensors"] if t["bits"]]
        if hasattr(f, "offset_keys") and [k for k in f.offset_keys() if k in filled] != filled:
            errors.append(f"offset order {f.offset_keys()} is not the written order")
    if metadata != expected["metadata"]:
        errors.append(f"metadata {metadata} differs from {expected['metadata']}")

    for e in errors:
        print("safetensors_roundtrip: " + e)
    print(f"safetensors_roundtrip: {len(expected['tensors'])} tensors via safetensors.{backend}: "
          + ("FAILED" if errors else "ok"))
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))

#!/usr/bin/env python3
"""Whole networks side by side: ours, ONNX Runtime and OpenVINO on the same ONNX export, this machine.

Phase 1 (nothing is timed): each model (see models_common.py) is built in PyTorch with seeded
random weights and BatchNorm statistics, saved as safetensors + .npy, run once by
`mobilekernels infer`, and exported to ONNX (opset 17, TorchScript exporter). Logits are compared
with PyTorch's as max |x - torch| / max |torch|: ours (the target, <= 1e-4), and ORT's and
OpenVINO's (informational).

Phase 2: per model and thread count T, --rounds rounds; each round times every side once, the
order rotating from round to round (ours, ORT, OpenVINO / ORT, OpenVINO, ours / ...):
  ours      a fresh `mobilekernels infer --threads T --repeat R --top 0` process (one untimed
            first run, then R timed; its printed median);
  ORT       a fresh session (CPU EP, intra_op T, inter_op 1, ORT_ENABLE_ALL, sequential),
            --warmup untimed runs then R timed; closed before the next side runs;
  OpenVINO  a fresh Core, compile_model(onnx, "CPU", INFERENCE_NUM_THREADS T,
            INFERENCE_PRECISION_HINT f32, PERFORMANCE_HINT LATENCY, NUM_STREAMS 1), one sync
            infer request, --warmup untimed runs then R timed; deleted before the next side runs.
A side's figure in a round is the median of its R runs; a cell is the median over rounds; the
ratio ours / best is the median over rounds of ours / min(ORT, OpenVINO) in that round.

Prints a markdown table (machine and versions in its header) and a PASS/FAIL line per target.
Exit status 1 only if our logits miss 1e-4 (the timing targets are reported, not enforced).

Needs (installs nothing): pip install torch==2.13.0 torchvision==0.28.0 onnx onnxruntime openvino safetensors numpy
Usage: python3 Benchmarks/onnxruntime/side_by_side.py [--models mobilenet_v2,vgg16] [--threads 1,2]
       [--rounds 3] [--runs 20,vgg16=5] [--peers ort,openvino] [--json out.json]
"""
import argparse
import gc
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models_common as mc  # noqa: E402

PEERS = {"ort": "ORT", "openvino": "OpenVINO"}
DEFAULT_RUNS = {"*": 20, "vgg16": 5}
ERROR_LIMIT = 1e-4
RATIO_LIMIT = 0.9
VGG_RATIO_LIMIT = 0.7
SCALING_LIMIT = 1.7


# ----------------------------------------------------------------------------------------------
# Options

def parse_runs(text):
    """"20" -> 20 runs for every model; "20,vgg16=5" -> 20, but 5 for vgg16. Default 20, vgg16 5."""
    if text is None:
        return dict(DEFAULT_RUNS)
    runs = {"*": DEFAULT_RUNS["*"]}
    for item in text.split(","):
        name, _, count = item.rpartition("=")
        runs[name.strip() or "*"] = int(count)
    return runs


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(mc.MODELS), help="comma list (default: all seven)")
    ap.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    ap.add_argument("--rounds", type=int, default=3, help="timing rounds per model and thread count (default 3)")
    ap.add_argument("--runs", default=None,
                    help="timed runs per side and round: N for every model, or N,model=M (default 20,vgg16=5)")
    ap.add_argument("--warmup", type=int, default=2,
                    help="untimed runs of ORT and OpenVINO before the timed ones (default 2; ours has one)")
    ap.add_argument("--binary", default=os.path.join(mc.ROOT, ".build", "release", "mobilekernels"))
    ap.add_argument("--peers", default="ort,openvino", help="ort,openvino, either one, or none")
    ap.add_argument("--json", help="write every raw number here")
    ap.add_argument("--keep", action="store_true",
                    help="keep the weights, images and ONNX files (a temporary folder, deleted by default)")
    args = ap.parse_args()
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in mc.MODELS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(mc.MODELS)}")
    args.threads = [int(t) for t in args.threads.split(",")]
    args.runs = parse_runs(args.runs)
    args.peers = [] if args.peers.strip() in ("", "none") else [p.strip() for p in args.peers.split(",")]
    bad = [p for p in args.peers if p not in PEERS]
    if bad:
        ap.error(f"unknown peer(s) {', '.join(bad)}; known: ort, openvino")
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"side_by_side.py: no mobilekernels binary at {args.binary}\n"
                 "build it with: swift build -c release --product mobilekernels (or make side-by-side)")
    return args


# ----------------------------------------------------------------------------------------------
# Machine

def machine():
    info = {"cpu": platform.processor() or platform.machine(), "family": None, "model": None, "flags": {},
            "cores": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)), "hypervisor": False,
            "system": f"{platform.system()} {platform.release()} {platform.machine()}"}
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return info

    def field(key):
        m = re.search(rf"^{key}\s*:\s*(.*)$", text, re.M)
        return m.group(1).strip() if m else None

    info["cpu"] = field("model name") or info["cpu"]
    info["family"], info["model"] = field("cpu family"), field("model")
    flags = set((field("flags") or "").split())
    info["flags"] = {f: f in flags for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")}
    info["hypervisor"] = "hypervisor" in flags
    return info


def versions():
    import numpy
    import torch
    out = {"python": platform.python_version(), "numpy": numpy.__version__, "torch": torch.__version__,
           "torchvision": mc.import_torchvision().__version__}
    for module in ("onnx", "onnxruntime", "openvino"):
        try:
            out[module] = __import__(module).__version__.split("-")[0]  # openvino: 2026.4.1-22982-...
        except ImportError:
            pass
    try:
        commit = subprocess.run(["git", "-C", mc.ROOT, "describe", "--always", "--dirty"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        out["tree"] = commit or None
    except (OSError, subprocess.SubprocessError):
        out["tree"] = None
    return out


def loadavg():
    """The 1-minute load average (/proc/loadavg): above ~0 before a run, something else is running."""
    try:
        return float(open("/proc/loadavg").read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def machine_line(m, v):
    yes = lambda f: "yes" if m["flags"].get(f) else "no"  # noqa: E731
    cpu = m["cpu"] + (f" (family {m['family']} model {m['model']})" if m["family"] else "")
    vm = ", VM guest" if m["hypervisor"] else ""
    peers = ", ".join(f"{k} {v[k]}" for k in ("onnxruntime", "openvino") if k in v)
    return (f"Machine: {cpu}, {m['cores']} cores{vm}; avx2 {yes('avx2')}, avx512f {yes('avx512f')}, "
            f"avx512_vnni {yes('avx512_vnni')}; {m['system']}. "
            f"Versions: ours at {v.get('tree')}, {peers}, "
            f"torch {v['torch']}, torchvision {v['torchvision']}, onnx {v.get('onnx')}, Python {v['python']}.")


# ----------------------------------------------------------------------------------------------
# The three sides

def time_ours(binary, p, threads, runs):
    cmd = [binary, "infer", "--model", p["name"], "--weights", p["weights"], "--input", p["image"],
           "--threads", str(threads), "--repeat", str(runs), "--top", "0"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    match = re.search(r"([0-9.]+) ms median", run.stdout)
    if run.returncode != 0 or not match:
        sys.exit(f"{p['name']}: mobilekernels failed ({' '.join(cmd)}):\n{run.stdout}\n{run.stderr}")
    return {"median": float(match.group(1))}


def timed(call, runs, warmup):
    for _ in range(warmup):
        call()
    times = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(runs):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1e3)
    # CPU time of the whole process over wall time: about T when T threads are busy (ORT's and
    # OpenVINO's workers spin or run), which checks that a peer used the threads it was given.
    busy = (time.process_time() - cpu0) / max(time.perf_counter() - wall0, 1e-9)
    return {"median": statistics.median(times), "min": min(times), "times": times, "cpu_per_wall": busy}


def time_ort(p, threads, runs, warmup):
    session = mc.ort_session(p["onnx"], threads)
    feed = {session.get_inputs()[0].name: p["x"]}
    try:
        return timed(lambda: session.run(None, feed), runs, warmup)
    finally:
        del session
        gc.collect()


OV_CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
OV_REPORTED = ("INFERENCE_NUM_THREADS", "INFERENCE_PRECISION_HINT", "PERFORMANCE_HINT", "NUM_STREAMS",
               "ENABLE_CPU_PINNING", "ENABLE_HYPER_THREADING", "SCHEDULING_CORE_TYPE")


def openvino_request(onnx_path, threads, x):
    import openvino as ov
    core = ov.Core()
    compiled = core.compile_model(onnx_path, "CPU", {"INFERENCE_NUM_THREADS": threads, **OV_CONFIG})
    properties = {}
    for key in OV_REPORTED:
        try:
            properties[key] = str(compiled.get_property(key))
        except Exception:  # a property this version does not report
            pass
    request = compiled.create_infer_request()
    request.set_input_tensor(ov.Tensor(x))
    return core, compiled, request, properties


def time_openvino(p, threads, runs, warmup):
    affinity = os.sched_getaffinity(0)
    core, compiled, request, properties = openvino_request(p["onnx"], threads, p["x"])
    try:
        result = timed(request.infer, runs, warmup)
        result["properties"] = properties
        return result
    finally:
        del request, compiled, core
        gc.collect()
        if os.sched_getaffinity(0) != affinity:  # OpenVINO pins its workers; never let that leak to ORT
            print("warning: OpenVINO left this thread pinned; affinity restored", flush=True)
            os.sched_setaffinity(0, affinity)


# ----------------------------------------------------------------------------------------------
# Phases

def check_peers(p, peers):
    """The peers' logits against PyTorch's (1 thread), informational."""
    import numpy as np
    errors = {}
    if "ort" in peers:
        session = mc.ort_session(p["onnx"], 1)
        errors["ort"] = mc.rel_error(session.run(None, {session.get_inputs()[0].name: p["x"]})[0], p["want"])
        del session
    if "openvino" in peers:
        core, compiled, request, _ = openvino_request(p["onnx"], 1, p["x"])
        request.infer()
        errors["openvino"] = mc.rel_error(np.array(request.get_output_tensor(0).data), p["want"])
        del request, compiled, core
    gc.collect()
    return errors


def fmt_ms(v):
    if v is None:
        return "-"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def fmt_ratio(v):
    return "-" if v is None else f"{v:.2f}"


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main():
    args = parse_args()
    mc.require(["numpy", "torch", "torchvision", "onnx", "safetensors"]
               + [{"ort": "onnxruntime"}.get(p, p) for p in args.peers], "side_by_side.py")
    import torch
    torch.set_num_threads(1)
    work = tempfile.mkdtemp(prefix="mk-side-by-side-")
    m, v = machine(), versions()
    print(machine_line(m, v))
    load_start = loadavg()
    print(f"files in {work}{'' if args.keep else ' (deleted at the end)'}; load average {load_start}", flush=True)
    try:
        status = run(args, work, m, v, load_start)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(status)


def run(args, work, m, v, load_start):

    # Phase 1: PyTorch, the files, every side's logits; nothing is timed.
    prepared, results = [], {}
    for name in args.models:
        t0 = time.perf_counter()
        p = mc.prepare(name, work, args.binary)
        peer_errors = check_peers(p, args.peers)
        del p["want"]
        prepared.append(p)
        results[name] = {"errors": {"ours": p["error"], **peer_errors}, "runs": args.runs.get(name, args.runs["*"]),
                         "threads": {}}
        shown = ", ".join(f"{PEERS[k]} {e:.2e}" for k, e in peer_errors.items())
        print(f"{name:20} rel. error vs PyTorch: ours {p['error']:.2e}" + (f", {shown}" if shown else "")
              + f" ({time.perf_counter() - t0:.0f} s)", flush=True)

    # Phase 2: alternating rounds.
    sides = ["ours"] + args.peers
    for p in prepared:
        name, runs = p["name"], results[p["name"]]["runs"]
        for t in args.threads:
            rounds = []
            for r in range(max(1, args.rounds)):
                order = sides[r % len(sides):] + sides[:r % len(sides)]
                row = {"order": order}
                for side in order:
                    if side == "ours":
                        row["ours"] = time_ours(args.binary, p, t, runs)
                    elif side == "ort":
                        row["ort"] = time_ort(p, t, runs, args.warmup)
                    else:
                        try:
                            row["openvino"] = time_openvino(p, t, runs, args.warmup)
                            got = row["openvino"]["properties"].get("INFERENCE_NUM_THREADS")
                            if got != str(t):
                                print(f"warning: OpenVINO reports INFERENCE_NUM_THREADS {got}, asked {t}", flush=True)
                        except RuntimeError as e:  # e.g. a property this OpenVINO rejects
                            print(f"{name}: OpenVINO failed: {e}", flush=True)
                            row["openvino"] = None
                best = min((row[s]["median"] for s in args.peers if row.get(s)), default=None)
                row["best_peer"] = best
                row["ratio"] = row["ours"]["median"] / best if best else None
                rounds.append(row)
                print(f"  {name} {t}T round {r + 1}: " + ", ".join(
                    f"{PEERS.get(s, s)} {fmt_ms(row[s]['median']) if row.get(s) else '-'}" for s in order)
                    + f" ms; ours/best {fmt_ratio(row['ratio'])}", flush=True)
            cell = {"rounds": rounds, "ratio": median_or_none([r["ratio"] for r in rounds])}
            for s in sides:
                cell[s] = median_or_none([r[s]["median"] if r.get(s) else None for r in rounds])
            results[name]["threads"][t] = cell
        ours = [results[name]["threads"][t]["ours"] for t in (1, 2) if t in args.threads]
        results[name]["scaling_1t_2t"] = ours[0] / ours[1] if len(ours) == 2 else None

    # The table.
    print()
    print(machine_line(m, v))
    print(f"Batch 1, 224x224, float32; rounds per cell: {args.rounds}, each side's median of R runs per round "
          f"(R = {', '.join(f'{k} {n}' if k != '*' else str(n) for k, n in args.runs.items())}); "
          f"cells: median over rounds; ours/best: median over rounds of ours / the faster peer. "
          f"Load average {load_start} at the start, {loadavg()} at the end.")
    print()
    head, rule = ["model"], ["---"]
    for t in args.threads:
        head += [f"ours {t}T ms"] + [f"{PEERS[s]} {t}T" for s in args.peers] + ([f"ours/best {t}T"] if args.peers else [])
    if 1 in args.threads and 2 in args.threads:
        head.append("our scaling 1T/2T")
    head.append("rel. error")
    rule = ["---"] + ["---:"] * (len(head) - 1)
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(rule) + "|")
    for name in args.models:
        res = results[name]
        row = [name]
        for t in args.threads:
            c = res["threads"][t]
            row += [fmt_ms(c["ours"])] + [fmt_ms(c[s]) for s in args.peers] + ([fmt_ratio(c["ratio"])] if args.peers else [])
        if 1 in args.threads and 2 in args.threads:
            row.append(fmt_ratio(res["scaling_1t_2t"]))
        row.append(f"{res['errors']['ours']:.1e}")
        print("| " + " | ".join(row) + " |")
    print()

    # The targets.
    targets = {}
    subset = "" if set(args.models) == set(mc.MODELS) else f" [{len(args.models)} of {len(mc.MODELS)} models run]"

    def verdict(key, text, failures, measured=True, detail=""):
        status = "not measured" if not measured else ("FAIL" if failures else "PASS")
        targets[key] = {"status": status, "failures": failures}
        extra = f": {', '.join(failures)}" if failures else (f" ({detail})" if detail and measured else "")
        print(f"{status}: {text}{extra}{subset if measured else ''}")

    ratios = [(n, t, results[n]["threads"][t]["ratio"]) for n in args.models for t in args.threads if t in (1, 2)]
    verdict("ratio", f"every network at most {RATIO_LIMIT}x the faster of {' and '.join(PEERS[s] for s in args.peers) or 'the peers'} at 1 and 2 threads",
            [f"{n} {t}T {fmt_ratio(r)}" for n, t, r in ratios if r is None or r > RATIO_LIMIT] if args.peers else [],
            measured=bool(args.peers and ratios), detail=f"worst {max((r for _, _, r in ratios if r), default=0):.2f}")
    scalings = [(n, results[n]["scaling_1t_2t"]) for n in args.models if results[n]["scaling_1t_2t"] is not None]
    verdict("scaling", f"our 2-thread scaling (1T/2T) at least {SCALING_LIMIT}x",
            [f"{n} {s:.2f}" for n, s in scalings if s < SCALING_LIMIT], measured=bool(scalings),
            detail=f"lowest {min((s for _, s in scalings), default=0):.2f}")
    vgg = results.get("vgg16", {}).get("threads", {}).get(1, {}).get("ratio")
    verdict("vgg16", f"VGG16 at 1 thread at most {VGG_RATIO_LIMIT}x the faster peer",
            [f"vgg16 1T {vgg:.2f}"] if vgg is not None and vgg > VGG_RATIO_LIMIT else [],
            measured=vgg is not None, detail=f"{vgg:.2f}" if vgg is not None else "")
    errors = [(n, results[n]["errors"]["ours"]) for n in args.models]
    verdict("logits", f"our logits within {ERROR_LIMIT:.0e} of PyTorch's (max|ours - torch| / max|torch|)",
            [f"{n} {e:.1e}" for n, e in errors if not e <= ERROR_LIMIT],
            detail=f"worst {max(e for _, e in errors):.1e}")
    for s in args.peers:
        busy = [(n, t, r[s]["cpu_per_wall"]) for n in args.models for t in args.threads
                for r in results[n]["threads"][t]["rounds"] if r.get(s)]
        per_t = {t: [b for _, tt, b in busy if tt == t] for t in args.threads}
        print(f"{PEERS[s]} CPU time / wall time while timed: " + ", ".join(
            f"{t}T {min(b):.2f}-{max(b):.2f}" for t, b in per_t.items() if b) + " (about T: it ran T threads on T free cores; below: it had fewer, another load)")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": m, "versions": v, "binary": args.binary,
                       "options": {"models": args.models, "threads": args.threads, "rounds": args.rounds,
                                   "runs": args.runs, "warmup": args.warmup, "peers": args.peers,
                                   "openvino_config": OV_CONFIG},
                       "loadavg": {"start": load_start, "end": loadavg()},
                       "results": results, "targets": targets}, f, indent=1)
        print(f"wrote {args.json}")
    return 1 if targets["logits"]["status"] == "FAIL" else 0


if __name__ == "__main__":
    main()

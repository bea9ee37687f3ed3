#!/usr/bin/env python3
"""Time single convolution layers in ONNX Runtime on this machine, side by side with our kernels.

Each case becomes a one-node ONNX model (Conv + bias, no activation, float32, opset 17, NCHW input
[1, cin, h, w], pads = k//2 on every side, dilations 1, random weights) run by the
CPUExecutionProvider with ORT_ENABLE_ALL (so ORT rewrites it to its NCHWc kernel, with a
ReorderInput / ReorderOutput around it; --kernel-only also reports the Conv node alone).

Cases come from our harness JSON (`swift run -c release benchmarks kernels --json out.json`) or,
with --shapes, from the single-layer list in ../shared/ANCHORS.md.

Needs: pip install onnxruntime onnx numpy   (this script installs nothing)
"""
import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:  # pragma: no cover
    sys.exit(f"missing package ({e.name}): pip install onnxruntime onnx numpy")

CONV_FAMILIES = {"dwconv", "conv1x1", "gconv", "conv"}
PARAM_KEYS = ("n", "h", "w", "cin", "cout", "kh", "kw", "stride", "groups")

# The single layers of ANCHORS.md ("Single layers in ONNX Runtime 1.32, 1 thread"), with the
# GFLOP/s it gives (measured on another CPU; printed for reference only).
# (family, cin, cout, h, w, k, stride, groups, anchor GFLOP/s)
ANCHOR_SHAPES = [
    ("dwconv", 32, 32, 112, 112, 3, 1, 32, 48.5),
    ("dwconv", 96, 96, 112, 112, 3, 2, 96, 25.4),
    ("dwconv", 144, 144, 56, 56, 3, 1, 144, 55.3),
    ("dwconv", 144, 144, 56, 56, 3, 2, 144, 25.4),
    ("dwconv", 192, 192, 28, 28, 3, 1, 192, 64.5),
    ("dwconv", 384, 384, 14, 14, 3, 1, 384, 42.3),
    ("dwconv", 576, 576, 14, 14, 3, 1, 576, 48.4),
    ("dwconv", 576, 576, 14, 14, 3, 2, 576, 42.3),
    ("dwconv", 960, 960, 7, 7, 3, 1, 960, 47.0),
    ("dwconv", 72, 72, 56, 56, 5, 2, 72, 39.8),
    ("dwconv", 120, 120, 28, 28, 5, 1, 120, 79.7),
    ("dwconv", 672, 672, 14, 14, 5, 2, 672, 51.5),
    ("dwconv", 960, 960, 7, 7, 5, 1, 960, 53.5),
    ("conv1x1", 32, 16, 112, 112, 1, 1, 1, 104.4),
    ("conv1x1", 96, 24, 56, 56, 1, 1, 1, 101.8),
    ("conv1x1", 144, 24, 56, 56, 1, 1, 1, 116.5),
    ("conv1x1", 192, 32, 28, 28, 1, 1, 1, 108.2),
    ("conv1x1", 384, 64, 14, 14, 1, 1, 1, 128.5),
    ("conv1x1", 576, 96, 14, 14, 1, 1, 1, 141.7),
    ("conv1x1", 960, 160, 7, 7, 1, 1, 1, 139.4),
    ("conv1x1", 320, 1280, 7, 7, 1, 1, 1, 127.4),
    ("gconv", 240, 60, 28, 28, 1, 1, 3, 77.6),
    ("gconv", 480, 120, 14, 14, 1, 1, 3, 91.8),
    ("gconv", 960, 240, 7, 7, 1, 1, 3, 121.4),
    ("gconv", 60, 240, 28, 28, 1, 1, 3, 70.3),
]


# ----------------------------------------------------------------------------------------------
# Cases

def out_size(size, k, stride):
    pad = k // 2
    return (size + 2 * pad - k) // stride + 1


def macs(p):
    oh, ow = out_size(p["h"], p["kh"], p["stride"]), out_size(p["w"], p["kw"], p["stride"])
    return p["n"] * p["cout"] * oh * ow * (p["cin"] // p["groups"]) * p["kh"] * p["kw"]


def shape_name(family, p):
    """Our harness's style for depthwise ("dw3x3/s1 C=32 112x112"), similar for the others."""
    k = f"{p['kh']}x{p['kw']}"
    hw = f"{p['h']}x{p['w']}"
    if family == "dwconv":
        return f"dw{k}/s{p['stride']} C={p['cin']} {hw}"
    if family == "conv1x1":
        return f"1x1/s{p['stride']} {p['cin']}->{p['cout']} {hw}"
    if family == "gconv":
        return f"g{k}/s{p['stride']} {p['cin']}->{p['cout']} {hw} g={p['groups']}"
    g = f" g={p['groups']}" if p["groups"] != 1 else ""
    return f"conv{k}/s{p['stride']} {p['cin']}->{p['cout']} {hw}{g}"


def params_key(p):
    return tuple(int(p[k]) for k in PARAM_KEYS)


def cases_from_shapes():
    cases = []
    for family, cin, cout, h, w, k, s, g, anchor in ANCHOR_SHAPES:
        p = dict(n=1, h=h, w=w, cin=cin, cout=cout, kh=k, kw=k, stride=s, groups=g)
        cases.append(dict(family=family, params=p, shape=shape_name(family, p), model=None,
                          layer=None, more=0, anchor=anchor, ours={}))
    return cases


def cases_from_json(path):
    """Unique (family, params) conv cases, in file order, with our rows grouped by variant/threads."""
    with open(path) as f:
        doc = json.load(f)
    rows = doc["rows"] if isinstance(doc, dict) else doc
    cases, index, skipped = [], {}, set()
    for r in rows:
        p = r.get("params") or {}
        if r.get("family") not in CONV_FAMILIES or not all(k in p for k in PARAM_KEYS):
            skipped.add(r.get("family"))
            continue
        if r.get("variant") == "onnxruntime":
            continue
        key = (r["family"], params_key(p))
        if key not in index:
            pp = {k: int(p[k]) for k in PARAM_KEYS}
            index[key] = len(cases)
            cases.append(dict(family=r["family"], params=pp, shape=r.get("shape") or shape_name(r["family"], pp),
                              model=r.get("model"), layer=r.get("layer"), models=set(), anchor=None,
                              ours={}, flops=r.get("flops")))
        c = cases[index[key]]
        c["models"].add((r.get("model"), r.get("layer")))
        if r.get("median_ms"):
            # same geometry measured under several models/layers: keep the best median
            ok = (r["variant"], int(r["threads"]))
            c["ours"][ok] = min(c["ours"].get(ok, float("inf")), float(r["median_ms"]))
    for c in cases:
        c["more"] = len(c.pop("models")) - 1
        expect = 2 * macs(c["params"])
        if c.get("flops") and int(c["flops"]) != expect:
            print(f"warning: {c['shape']}: harness flops {c['flops']} != 2*MACs {expect} with pad k//2 "
                  f"(different padding?)", file=sys.stderr)
    skipped.discard(None)
    if skipped:
        print(f"note: skipped non-convolution families: {', '.join(sorted(skipped))}", file=sys.stderr)
    return cases, (doc.get("machine") if isinstance(doc, dict) else None)


def our_median(case, threads, variant):
    """(variant, median ms) of our row for this case and thread count: `variant` if present, else
    the fastest non-reference variant."""
    ours = case["ours"]
    if (variant, threads) in ours:
        return variant, ours[(variant, threads)]
    cands = [(ms, v) for (v, t), ms in ours.items() if t == threads and v not in ("reference", "onnxruntime")]
    if not cands:
        return None, None
    ms, v = min(cands)
    return v, ms


# ----------------------------------------------------------------------------------------------
# ONNX model and session

def build_model(p, seed=0):
    rng = np.random.default_rng(seed)
    n, h, w, cin, cout, kh, kw, s, g = (p[k] for k in PARAM_KEYS)
    if cin % g or cout % g:
        raise ValueError(f"groups {g} does not divide cin {cin} / cout {cout}")
    weight = (rng.standard_normal((cout, cin // g, kh, kw)) * 0.1).astype(np.float32)
    bias = (rng.standard_normal(cout) * 0.1).astype(np.float32)
    node = helper.make_node("Conv", ["X", "W", "B"], ["Y"], group=g, kernel_shape=[kh, kw],
                            strides=[s, s], pads=[kh // 2, kw // 2, kh // 2, kw // 2], dilations=[1, 1])
    oh, ow = out_size(h, kh, s), out_size(w, kw, s)
    graph = helper.make_graph(
        [node], "conv",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [n, cin, h, w])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [n, cout, oh, ow])],
        [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="ort_bench")
    model.ir_version = 8  # opset 17's IR version; accepted by every ORT that knows opset 17
    onnx.checker.check_model(model)
    return model.SerializeToString()


def make_session(model_bytes, threads, profile_prefix=None):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    return ort.InferenceSession(model_bytes, sess_options=so, providers=["CPUExecutionProvider"])


def make_inputs(p, count, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((p["n"], p["cin"], p["h"], p["w"])).astype(np.float32)
            for _ in range(max(1, count))]


def time_runs(sess, inputs, warmup, min_time, min_runs):
    """Per-run times in ns: `warmup` untimed runs, then until >= min_time s and >= min_runs runs."""
    feeds = [{"X": x} for x in inputs]
    out = ["Y"]
    run = sess.run
    for i in range(warmup):
        run(out, feeds[i % len(feeds)])
    times = []
    clock = time.perf_counter_ns
    budget = int(min_time * 1e9)
    start = clock()
    i = 0
    while True:
        feed = feeds[i % len(feeds)]
        t0 = clock()
        run(out, feed)
        times.append(clock() - t0)
        i += 1
        if i >= min_runs and clock() - start >= budget:
            return times


def kernel_times(model_bytes, threads, inputs, warmup, runs):
    """Median ms of the Conv node alone (ORT's profiler, 1 us resolution) and of the reorders."""
    prefix = os.path.join(tempfile.mkdtemp(prefix="ort_bench_"), "prof")
    sess = make_session(model_bytes, threads, prefix)
    feeds = [{"X": x} for x in inputs]
    for i in range(warmup + runs):
        sess.run(["Y"], feeds[i % len(feeds)])
    path = sess.end_profiling()
    with open(path) as f:
        events = json.load(f)
    os.remove(path)
    try:
        os.rmdir(os.path.dirname(prefix))
    except OSError:
        pass
    conv, other = [], []
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        (conv if e.get("args", {}).get("op_name") == "Conv" else other).append(e["dur"])
    total = warmup + runs
    if len(conv) != total:
        return None, None
    k = len(other) // total  # reorder nodes per run (0 if ORT kept plain NCHW)
    conv = conv[warmup:]
    reorder = [sum(other[i * k:(i + 1) * k]) for i in range(warmup, total)] if k else [0]
    return statistics.median(conv) / 1e3, statistics.median(reorder) / 1e3


def call_overhead_ms(threads):
    """Median time of session.run on a tiny Identity model: the Python + ORT per-call floor."""
    node = helper.make_node("Identity", ["X"], ["Y"])
    graph = helper.make_graph([node], "id", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    sess = make_session(model.SerializeToString(), threads)
    x = [np.zeros((1, 4), np.float32)]
    return statistics.median(time_runs(sess, x, 10, 0.02, 200)) / 1e6


# ----------------------------------------------------------------------------------------------
# Output

def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def print_table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    left = {0, 1, 2}  # text columns

    def fmt(r):
        return "  ".join(str(c).ljust(widths[i]) if i in left else str(c).rjust(widths[i])
                         for i, c in enumerate(r)).rstrip()
    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(fmt(r))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("input", nargs="?", help="our harness JSON ({machine, rows}); its conv cases are run")
    src.add_argument("--shapes", action="store_true", help="run the single-layer shapes of ANCHORS.md instead")
    ap.add_argument("--threads", default="1,2", help="intra-op thread counts, comma separated (default 1,2)")
    ap.add_argument("--min-time", type=float, default=0.3, help="minimum timed seconds per case (default 0.3)")
    ap.add_argument("--min-runs", type=int, default=20, help="minimum timed runs per case (default 20)")
    ap.add_argument("--warmup", type=int, default=10, help="untimed runs first (default 10)")
    ap.add_argument("--rotate", type=int, default=1, metavar="N",
                    help="cycle through N distinct input arrays (default 1: same input, warm caches)")
    ap.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N cases")
    ap.add_argument("--family", default=None, help="only these families, comma separated (dwconv,conv1x1,gconv,conv)")
    ap.add_argument("--variant", default="avx512",
                    help="our variant for the ours/ORT ratio (default avx512; else fastest non-reference)")
    ap.add_argument("--kernel-only", action="store_true",
                    help="also time the Conv node alone with ORT's profiler (a second, profiled session)")
    ap.add_argument("--json", metavar="OUT", help="write the ORT rows to OUT ({machine, rows}, our field names)")
    args = ap.parse_args(argv)

    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    if args.shapes:
        cases, their_machine = cases_from_shapes(), None
    else:
        cases, their_machine = cases_from_json(args.input)
    if args.family:
        fams = set(args.family.split(","))
        cases = [c for c in cases if c["family"] in fams]
    if args.limit is not None:
        cases = cases[:args.limit]
    if not cases:
        sys.exit("no convolution cases to run")
    have_ours = any(c["ours"] for c in cases)
    have_anchor = any(c["anchor"] for c in cases)

    cpu = cpu_name()
    print(f"onnxruntime {ort.__version__} (onnx {onnx.__version__}, numpy {np.__version__}, "
          f"python {platform.python_version()}); providers: CPUExecutionProvider")
    print(f"CPU: {cpu}; {os.cpu_count()} logical CPUs")
    if their_machine:
        print(f"input JSON machine: cpu {their_machine.get('cpu')}, cores {their_machine.get('cores')}")
    print(f"timing: warm-up {args.warmup}, >= {args.min_time} s and >= {args.min_runs} runs per case, "
          f"{args.rotate} input array(s), threads {threads}")
    overhead = {t: call_overhead_ms(t) for t in threads}
    print("session.run floor (Identity on 4 floats): " +
          ", ".join(f"{t}T {ms * 1e3:.1f} us" for t, ms in overhead.items()))
    if have_anchor:
        print("anchor GF/s: ANCHORS.md figure for ORT 1.32, 1 thread, measured on another CPU (kernel alone)")
    print(flush=True)

    header = ["family", "shape", "model/layer", "T", "median ms", "min ms", "GF/s"]
    if args.kernel_only:
        header += ["kernel ms", "kernel GF/s", "reorder ms"]
    if have_anchor:
        header += ["anchor GF/s"]
    if have_ours:
        header += ["ours ms", "ours/ORT"]
    table, out_rows = [], []
    for ci, c in enumerate(cases):
        p = c["params"]
        flops = 2 * macs(p)
        model_bytes = build_model(p)
        inputs = make_inputs(p, args.rotate)
        if c["model"]:
            ml = f"{c['model']} {c['layer']}" + (f" (+{c['more']})" if c["more"] else "")
        else:
            ml = "-"
        for t in threads:
            sess = make_session(model_bytes, t)
            ns = time_runs(sess, inputs, args.warmup, args.min_time, args.min_runs)
            del sess
            med, mn = statistics.median(ns) / 1e6, min(ns) / 1e6
            p90 = sorted(ns)[min(len(ns) - 1, int(0.9 * len(ns)))] / 1e6
            gf = flops / (med * 1e6)
            row = [c["family"], c["shape"], ml, t, f"{med:.4f}", f"{mn:.4f}", f"{gf:.1f}"]
            rec = dict(family=c["family"], model=c["model"], layer=c["layer"] or c["shape"], shape=c["shape"],
                       params=p, variant="onnxruntime", threads=t, median_ms=med, min_ms=mn, p90_ms=p90,
                       gflops=gf, flops=flops, runs=len(ns))
            if args.kernel_only:
                kms, rms = kernel_times(model_bytes, t, inputs, args.warmup, len(ns))
                if kms:
                    row += [f"{kms:.4f}", f"{flops / (kms * 1e6):.1f}" if kms > 0 else "-", f"{rms:.4f}"]
                    rec.update(kernel_median_ms=kms, reorder_ms=rms)
                else:
                    row += ["-", "-", "-"]
            if have_anchor:
                row += [f"{c['anchor']:.1f}" if c["anchor"] and t == 1 else "-"]
            if have_ours:
                v, ours = our_median(c, t, args.variant)
                if ours:
                    tag = "" if v == args.variant else f" ({v})"
                    row += [f"{ours:.4f}", f"{med / ours:.2f}{tag}"]
                else:
                    row += ["-", "-"]
            table.append(row)
            out_rows.append(rec)
        print(f"[{ci + 1}/{len(cases)}] {c['shape']} done", file=sys.stderr, flush=True)

    print_table(header, table)
    if have_ours:
        print(f"\nours/ORT = ORT median / our median (> 1: ours faster); ours = our '{args.variant}' row "
              f"(best median over the models sharing the geometry), else the fastest non-reference variant, "
              f"named in parentheses.")

    if args.json:
        doc = dict(machine=dict(cpu=cpu, cores=os.cpu_count(), onnxruntime=ort.__version__, onnx=onnx.__version__,
                                numpy=np.__version__, python=platform.python_version(),
                                session_run_floor_ms={str(t): v for t, v in overhead.items()},
                                min_time=args.min_time, min_runs=args.min_runs, warmup=args.warmup,
                                rotate=args.rotate),
                   rows=out_rows)
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
        print(f"wrote {len(out_rows)} rows to {args.json}")


if __name__ == "__main__":
    main()

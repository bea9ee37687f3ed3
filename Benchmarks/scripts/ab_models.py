#!/usr/bin/env python3
"""A/B of two builds of MobileKernels on whole networks, in one run.

    python3 Benchmarks/scripts/ab_models.py OLD_DIR NEW_DIR [--threads 1,2] [--rounds 3] [--repeat 20]

OLD_DIR and NEW_DIR are checkouts built with `swift build -c release` (e.g. the commit before a
change cloned into /tmp/before). For each round, model and thread count, the two builds'
`mobilekernels infer` run one after the other (so a noisy minute hits both), each reporting the
median latency of --repeat runs; the table gives the median over rounds of each side and of the
per-round ratio new/old. With --weights-dir (one MODEL.safetensors per model) and --input (a
float32 [N, 3, 224, 224] .npy), the logits of both builds are also compared bit for bit.
"""
import argparse, os, re, statistics, subprocess, sys, tempfile

MODELS = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
          "shufflenet_v1_g3", "alexnet", "vgg16"]


def infer(build, model, threads, repeat, inp, weights=None, output=None, env=None):
    cmd = [os.path.join(build, ".build/release/mobilekernels"), "infer", "--model", model,
           "--input", inp, "--threads", str(threads), "--repeat", str(repeat), "--top", "1"]
    if weights: cmd += ["--weights", weights]
    if output: cmd += ["--output", output]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit("%s failed: %s" % (" ".join(cmd), out.stderr.strip()))
    m = re.search(r"([0-9.]+) ms median", out.stdout)
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old"); ap.add_argument("new")
    ap.add_argument("--threads", default="1,2"); ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=20); ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--input", help="float32 [N, 3, 224, 224] .npy (default: zeros-free random, made here)")
    ap.add_argument("--weights-dir", help="MODEL.safetensors per model: also compare the logits")
    args = ap.parse_args()
    models = args.models.split(",")
    threads = [int(t) for t in args.threads.split(",")]
    tmp = tempfile.mkdtemp()
    inp = args.input
    if inp is None:
        import numpy as np
        inp = os.path.join(tmp, "x.npy")
        np.save(inp, np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype("<f4"))
    if args.weights_dir:
        for m in models:
            w = os.path.join(args.weights_dir, m + ".safetensors")
            outs = [os.path.join(tmp, "%s.%d.npy" % (m, i)) for i in (0, 1)]
            for build, out in zip((args.old, args.new), outs):
                infer(build, m, 1, 0, inp, w, out)
            same = open(outs[0], "rb").read() == open(outs[1], "rb").read()
            print("logits %-20s %s" % (m, "bit-identical" if same else "DIFFERENT"))
    times = {}
    for r in range(args.rounds):
        for m in models:
            for t in threads:
                a = infer(args.old, m, t, args.repeat, inp)
                b = infer(args.new, m, t, args.repeat, inp)
                times.setdefault((m, t), []).append((a, b))
    print("| model | threads | old ms | new ms | new / old |")
    print("|---|---|---|---|---|")
    for (m, t), pairs in times.items():
        old = statistics.median(p[0] for p in pairs)
        new = statistics.median(p[1] for p in pairs)
        ratio = statistics.median(p[1] / p[0] for p in pairs)
        print("| %s | %d | %.3f | %.3f | %.3f |" % (m, t, old, new, ratio))


if __name__ == "__main__":
    main()

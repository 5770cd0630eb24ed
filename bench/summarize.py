#!/usr/bin/env python3
"""Summarize a bench/run.sh result folder as Markdown: tidepool vs ONNX Runtime (and torch), same run.

    bench/summarize.py bench-out/results
"""
import json
import os
import sys

d = sys.argv[1]


def load(name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def ceiling_of(rows):
    """Best fp32 GEMM at 2048^3 among the libraries and our own kernel (median of its 5 timings)."""
    best = None
    for g in rows or []:
        if g["m"] == 2048 and g["backend"] in ("openblas", "blis", "onednn", "tidepool-f32"):
            best = max(best or 0, g["gflops"])
    return best


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return (xs[(n - 1) // 2] + xs[n // 2]) / 2


print(open(os.path.join(d, "machine.txt")).read().strip().replace("\n", "  \n"))
print()
gemm = load("gemm.json") or []
ceil = ceiling_of(gemm)
if gemm:
    print("### GEMM (GFLOP/s, median of 5, min-max), 2 threads\n")
    shapes = []
    for g in gemm:
        s = (g["m"], g["k"], g["n"])
        if s not in shapes:
            shapes.append(s)
    backs = []
    for g in gemm:
        if g["backend"] not in backs:
            backs.append(g["backend"])
    print("| backend | " + " | ".join("%dx%dx%d" % s for s in shapes) + " |")
    print("|---|" + "---|" * len(shapes))
    for b in backs:
        cells = []
        for s in shapes:
            g = [x for x in gemm if x["backend"] == b and (x["m"], x["k"], x["n"]) == s]
            cells.append("%.0f (%.0f-%.0f)" % (g[0]["gflops"], g[0]["min"], g[0]["max"]) if g else "")
        print("| %s | %s |" % (b, " | ".join(cells)))
    print("\nfp32 ceiling used below: %.1f GFLOP/s (best fp32 backend at 2048^3, same run)\n" % ceil)

print("### Models (2,000 workload sentences, sorted batches of 32, 2 threads)\n")
print("| model | engine | inference s (min-max) | sentences/s | tokens/s | x ORT | GFLOP/s | % ceiling "
      "| lat16 p50/p99 ms | peak RSS MB | cosine vs ORT (min) | cosine vs tp f32 (min) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for m in ("minilm-l6", "bert-base"):
    o = load("ort_%s.json" % m)
    if not o:
        continue
    r = o["orders"]["sorted"]
    r["inference_s"], r["inference_min_s"], r["inference_max_s"] = (
        r["infer_s"]["median"], r["infer_s"]["min"], r["infer_s"]["max"])
    ort_tps = r.get("tokens_per_s")
    lat = load("ort_lat_%s.json" % m) or {}
    print("| %s | ORT 1.30 | %.2f (%.2f-%.2f) | %.0f | %.0f | 1.00 | %.1f | %s | %s | | | |" % (
        m, r["inference_s"], r.get("inference_min_s", 0), r.get("inference_max_s", 0),
        r["sentences_per_s"], ort_tps, r["achieved_gflops"],
        "%.0f%%" % (100 * r["achieved_gflops"] / ceil) if ceil else "",
        "%.1f / %.1f" % (lat["latency16_p50_ms"], lat["latency16_p99_ms"]) if lat else ""))
    t = load("torch_%s.json" % m)
    if t:
        tr = t["orders"]["sorted"]
        tr["inference_s"] = tr["infer_s"]["median"]
        print("| %s | torch eager | %.2f | %.0f | %.0f | %.2f | %.1f | | | | | |" % (
            m, tr["inference_s"], tr["sentences_per_s"], tr["tokens_per_s"],
            tr["tokens_per_s"] / ort_tps, tr["achieved_gflops"]))
    for dt in ("f32", "bf16", "int8", "f32_packed"):
        j = load("tp_%s_%s.json" % (m, dt))
        if not j:
            continue
        ag = j.get("agreement", [])
        c_ort = [a for a in ag if "ort_emb" in a["ref"]]
        c_f32 = [a for a in ag if "tp_emb" in a["ref"]]
        print("| %s | tidepool %s | %.2f (%.2f-%.2f) | %.0f | %.0f | **%.2f** | %.1f | %s | %s | %.0f | %s | %s |" % (
            m, dt.replace("_packed", " (engine packing)"), j["inference_s"], j["inference_min_s"],
            j["inference_max_s"], j["sentences_per_s"], j["tokens_per_s"], j["tokens_per_s"] / ort_tps,
            j["achieved_gflops"], "%.0f%%" % (100 * j["achieved_gflops"] / ceil) if ceil else "",
            "%.1f / %.1f" % (j["latency16_p50_ms"], j["latency16_p99_ms"]) if j["latency16_p50_ms"] else "",
            j["peak_rss_mb"],
            "%.6f" % c_ort[0]["cos_min"] if c_ort else "", "%.6f" % c_f32[0]["cos_min"] if c_f32 else ""))

rounds = []
for m in ("minilm-l6", "bert-base"):
    r = 1
    while True:
        o, t = load("round_%s_%d_ort.json" % (m, r)), load("round_%s_%d_tp.json" % (m, r))
        if not o or not t:
            break
        rc = ceiling_of(load("round_%s_%d_gemm.json" % (m, r))) or ceil
        pcj = t.get("paired_ceiling")
        rounds.append((m, r, o["orders"]["sorted"]["tokens_per_s"], t["tokens_per_s"],
                       t["achieved_gflops"], o["orders"]["sorted"]["achieved_gflops"], rc, pcj))
        r += 1
if rounds:
    print("\n### f32 vs ORT, interleaved rounds (odd rounds ORT first, even rounds tidepool first; "
          "each a warm-up + 1 timed pass, then the round's fp32 ceiling at 2048^3)\n")
    print("| model | round | ORT tokens/s | tidepool f32 tokens/s | x ORT | ORT GFLOP/s | tidepool GFLOP/s "
          "| round ceiling GFLOP/s | tidepool % of ceiling "
          "| paired: model / tidepool 2048^3 / oneDNN 2048^3 GFLOP/s | paired % of ceiling |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for m, r, ot, tt, tg, og, rc, pcj in rounds:
        print("| %s | %d | %.0f | %.0f | %.2f | %.1f | %.1f | %s | %s | %s | %s |" % (
            m, r, ot, tt, tt / ot, og, tg, "%.1f" % rc if rc else "",
            "%.0f%%" % (100 * tg / rc) if rc else "",
            "%.1f / %.1f / %.1f" % (pcj["model_gflops"], pcj["tidepool_2048_gflops"],
                                    pcj["onednn_2048_gflops"]) if pcj else "",
            "%.1f%%" % pcj["pct_of_ceiling"] if pcj else ""))
    for m in ("minilm-l6", "bert-base"):
        mine = [x for x in rounds if x[0] == m]
        if not mine:
            continue
        rs = sorted(x[3] / x[2] for x in mine)
        pc = sorted(100 * x[4] / x[6] for x in mine if x[6])
        pp = sorted(x[7]["pct_of_ceiling"] for x in mine if x[7])
        print("\n%s: median ratio %.2f (min %.2f, max %.2f) over %d rounds; median %.1f GFLOP/s%s" % (
            m, median(rs), rs[0], rs[-1], len(rs), median(x[4] for x in mine),
            "; %% of the round's ceiling: median %.0f%% (min %.0f%%, max %.0f%%)" % (
                median(pc), pc[0], pc[-1]) if pc else "")
              + ("; paired %% of ceiling: median %.1f%% (min %.1f%%, max %.1f%%)" % (
                  median(pp), pp[0], pp[-1]) if pp else ""))

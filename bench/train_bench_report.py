#!/usr/bin/python3
"""Helper for bench/train-bench.sh (standard library only).

  parse IMPL FILE      print "samples_per_second<TAB>seconds<TAB>train_loss
                       <TAB>path" from one run's stdout, exit 1 if there is
                       none. IMPL traind or tier: the epoch object of
                       `traind train --json`, and as path the tier and
                       first-layer path its done line names
                       ("avx2/sparse"), "-" for the others;
                       sgemm: bench/sgemm.py's line (GFLOP/s in the first
                       column); anything else: the reference's JSON line.
  meta                 print the machine / library facts as one JSON object
                       (reads TRAIND_VERSION, NPROC, BENCH_* from the env).
  report RAW META OUT  median per configuration, the table on stdout, the
                       machine-readable copy written to OUT.
"""

import json
import os
import platform
import statistics
import sys

FLOP_PER_SAMPLE = 409088     # 784-128-10, see bench/README.md
BASE = ["traind_1w", "traind_2w", "numpy", "torch"]
HEADERS = ["traind 1w", "traind 2w", "numpy", "torch"]
PATHS = ["auto", "sparse", "dense"]
# Steal above this share of the CPU time in some run earns a warning.
STEAL_WARN_PCT = 5.0


def json_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                yield obj


def cmd_parse(impl, path):
    if impl == "sgemm":
        for obj in json_lines(path):
            v = obj.get("gflops")
            if isinstance(v, (int, float)) and v > 0:
                print("%r\tnan\tnan\t-" % float(v))
                return 0
        return 1
    found = None
    run_path = "-"
    for obj in json_lines(path):
        if obj.get("done") and impl in ("traind", "tier"):
            run_path = "%s/%s" % (obj.get("isa", "?"), obj.get("first_layer", "?"))
        if "samples_per_second" not in obj or obj.get("done"):
            continue
        if impl in ("traind", "tier") and "epoch" not in obj:
            continue
        found = obj           # last epoch object wins (there is one: --epochs 1)
    if found is None:
        return 1
    try:
        sps = float(found["samples_per_second"])
    except (TypeError, ValueError):
        return 1
    if not sps > 0:
        return 1

    def num(key):
        v = found.get(key)
        return repr(float(v)) if isinstance(v, (int, float)) else "nan"
    print("%r\t%s\t%s\t%s" % (sps, num("seconds"), num("train_loss"), run_path))
    return 0


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def openblas_info():
    """Ask the OpenBLAS that numpy/torch load (libblas.so.3 -> openblas)."""
    import ctypes
    import ctypes.util
    info = {}
    for name in ("openblas", "blas"):
        lib = ctypes.util.find_library(name)
        if not lib:
            continue
        try:
            h = ctypes.CDLL(lib)
            h.openblas_get_config.restype = ctypes.c_char_p
            h.openblas_get_corename.restype = ctypes.c_char_p
            info["config"] = h.openblas_get_config().decode().strip()
            info["core"] = h.openblas_get_corename().decode().strip()
            info["library"] = lib
            break
        except (OSError, AttributeError):
            continue
    try:
        info["libblas.so.3"] = os.path.realpath(
            "/etc/alternatives/libblas.so.3-x86_64-linux-gnu")
    except OSError:
        pass
    return info


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except (OSError, ValueError):
        return None


def cpu_busy(seconds=2.0):
    """Fraction of all CPUs busy over the next few seconds (from /proc/stat),
    i.e. what other processes take before the bench starts."""
    import time

    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        idle = v[3] + v[4]                       # idle + iowait
        return sum(v) - idle, sum(v)
    try:
        b0, t0 = sample()
        time.sleep(seconds)
        b1, t1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return (b1 - b0) / (t1 - t0) if t1 > t0 else None


def module_version(name):
    try:
        mod = __import__(name)
        return getattr(mod, "__version__", "unknown")
    except Exception as e:        # noqa: BLE001 - report, do not fail
        return "unavailable (%s)" % type(e).__name__


def num_or_none(s):
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return v if v == v else None


def traind_tier(version):
    """The tier `traind --version` names ("... isa avx512 ...")."""
    words = (version or "").replace("=", " ").replace(",", " ").split()
    for i, w in enumerate(words[:-1]):
        if w == "isa":
            return words[i + 1]
    return "unknown"


def cmd_meta():
    env = os.environ
    meta = {
        "nproc": int(env.get("NPROC") or os.cpu_count() or 0),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "numpy": module_version("numpy"),
        "torch": module_version("torch"),
        "openblas": openblas_info(),
        "traind": env.get("TRAIND_VERSION", "unknown"),
        "traind_path": env.get("TRAIND", ""),
        "debian_packages": env.get("BENCH_PKGS", ""),
        "rounds": int(env.get("BENCH_ROUNDS") or 0),
        "batches": [int(b) for b in env.get("BENCH_BATCHES", "").split()],
        "settings": env.get("BENCH_SETTINGS", ""),
        "started": env.get("BENCH_STARTED", ""),
        "cpu_flags": env.get("BENCH_CPU_FLAGS", ""),
        "cpu_tiers": env.get("BENCH_CPU_TIERS", "").split(),
        "tiers_forced": env.get("BENCH_TIERS", "").split(),
        "openblas_detected_core": env.get("BENCH_BLAS_DETECTED", ""),
        "openblas_coretype": env.get("BENCH_BLAS_CORE", ""),
        "sgemm_gflops_1thread": num_or_none(env.get("BENCH_SGEMM_GFLOPS")),
        "loadavg_at_start": loadavg(),
        "cpu_busy_before": cpu_busy(),
    }
    print(json.dumps(meta))
    return 0


def fmt_int(v):
    return "n/a" if v is None else "{:,.0f}".format(v)


def fmt_ratio(v):
    return "n/a" if v is None else "%.2fx" % v


def fmt_pct(v):
    return "n/a" if v is None else "%.0f%%" % (100 * v)


def print_table(cols, rows):
    width = [max(len(cols[i]), *(len(r[i]) for r in rows)) if rows
             else len(cols[i]) for i in range(len(cols))]
    print(" | ".join(c.rjust(w) for c, w in zip(cols, width)))
    print("-|-".join("-" * w for w in width))
    for r in rows:
        print(" | ".join(c.rjust(w) for c, w in zip(r, width)))


def flt(s):
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return None if v != v else v       # NaN -> None


def configs_and_tiers(runs):
    """Every configuration in run order (the four base ones first) and the
    tiers of the tier_<tier>_<path> ones."""
    configs = list(BASE)
    for r in runs:
        if r["config"] not in configs:
            configs.append(r["config"])
    tiers = []
    for c in configs:
        if c.startswith("tier_"):
            t = c[len("tier_"):].rsplit("_", 1)[0]
            if t not in tiers:
                tiers.append(t)

    return configs, tiers


def config_entry(runs, b, c, limit):
    """One configuration at one batch size: its median and every run."""
    mine = [r for r in runs if int(r["batch_size"]) == b and r["config"] == c]
    ok = [r for r in mine if r["status"] == "ok"]
    sps = [flt(r["samples_per_second"]) for r in ok]
    m = statistics.median(sps) if sps else None
    if c.startswith("sgemm_"):   # GFLOP/s, not samples
        return {"median_gflops": m, "gflops": sps, "runs": len(mine),
                "failed": len(mine) - len(ok)}
    loss = [flt(r["train_loss"]) for r in ok]
    loss = [x for x in loss if x is not None]
    secs = [flt(r["seconds"]) for r in ok if flt(r["seconds"]) is not None]
    paths = sorted({r.get("path", "-") for r in ok} - {"-", ""})
    steal = [x for x in (flt(r.get("steal_pct")) for r in ok) if x is not None]
    return {
        "median_samples_per_second": m,
        "samples_per_second": sps,
        "paths": paths,
        "median_seconds": statistics.median(secs or [float("nan")]) if ok else None,
        "train_loss": statistics.median(loss) if loss else None,
        "gflop_per_second": (m * FLOP_PER_SAMPLE / 1e9) if m else None,
        "share_of_dense_limit": m / limit if m and limit else None,
        "steal_pct": steal,
        "runs": len(mine),
        "failed": len(mine) - len(ok),
    }


def fmt_steal(med, worst):
    if med is None or worst is None:
        return "n/a"
    return "%.1f/%.1f%%" % (med, worst)


def auto_path(entry, tier):
    """The first-layer path the auto runs of a tier took ("sparse",
    "dense"), from their done lines; "mixed" if they differ, None if the
    binary does not say (or ran another tier)."""
    paths = entry.get("paths") or []
    if not paths:
        return None
    if len(paths) > 1:
        return "mixed"
    isa, _, path = paths[0].partition("/")
    return path if isa == tier and path in ("sparse", "dense") else None


def batch_results(runs, configs, tiers, limit):
    """Per batch size: every configuration's entry and the ratios; the
    sgemm configurations give the machine's own scaling in those rounds."""
    batches = []
    for r in runs:
        b = int(r["batch_size"])
        if b not in batches:
            batches.append(b)
    results = []
    for b in batches:
        entry = {"batch_size": b}
        for c in configs:
            entry[c] = config_entry(runs, b, c, limit)
        med = {c: entry[c].get("median_samples_per_second") for c in configs}
        refs = [med[c] for c in ("numpy", "torch") if med[c]]
        best = max(refs) if refs else None
        entry["best_reference"] = (
            None if best is None else
            ("numpy" if med["numpy"] == best else "torch"))
        entry["traind_2w_vs_best_reference"] = (
            med["traind_2w"] / best if med["traind_2w"] and best else None)
        entry["traind_scaling_2w_vs_1w"] = (
            med["traind_2w"] / med["traind_1w"]
            if med["traind_2w"] and med["traind_1w"] else None)
        # The hypervisor's steal over this batch size's runs (% of the CPU
        # time): the median and the worst run.
        steal = [flt(r.get("steal_pct")) for r in runs
                 if int(r["batch_size"]) == b and r["status"] == "ok"]
        steal = [x for x in steal if x is not None]
        entry["steal_pct_median"] = statistics.median(steal) if steal else None
        entry["steal_pct_max"] = max(steal) if steal else None
        sg = {c: entry[c]["median_gflops"] for c in ("sgemm_1t", "sgemm_all")
              if c in entry}
        entry["sgemm_scaling_all_vs_1t"] = (
            sg["sgemm_all"] / sg["sgemm_1t"]
            if sg.get("sgemm_all") and sg.get("sgemm_1t") else None)
        # The references held to AVX2 (on an AVX-512 CPU, beside the avx2
        # tier standing in for an AVX2-only CPU).
        refs2 = [med.get(c) for c in ("numpy_avx2", "torch_avx2") if med.get(c)]
        best2 = max(refs2) if refs2 else None
        entry["best_reference_avx2"] = (
            None if best2 is None else
            ("numpy" if med.get("numpy_avx2") == best2 else "torch"))
        for t in tiers:
            auto = med.get("tier_%s_auto" % t)
            forced = [med.get("tier_%s_%s" % (t, p)) for p in ("sparse", "dense")]
            forced = [x for x in forced if x]
            entry["tier_%s_auto_vs_best_forced" % t] = (
                auto / max(forced) if auto and forced else None)
            # auto runs the very code of the forced path it takes, so the
            # choice is judged by that path's own median against the other
            # path's: auto's run against them only adds its rounds' noise.
            took = auto_path(entry.get("tier_%s_auto" % t, {}), t)
            entry["tier_%s_auto_took" % t] = took
            pick = med.get("tier_%s_%s" % (t, took)) if took else None
            entry["tier_%s_pick_vs_best_forced" % t] = (
                pick / max(forced) if pick and forced else None)
            entry["tier_%s_auto_vs_best_reference" % t] = (
                auto / best if auto and best else None)
            if t == "avx2" and best2:
                entry["tier_avx2_auto_vs_best_reference_avx2"] = (
                    auto / best2 if auto else None)
        results.append(entry)
    return results


def print_header(meta, limit):
    ob = meta.get("openblas", {})
    print()
    print("machine : %s CPU(s), %s, Linux %s"
          % (meta.get("nproc"), meta.get("cpu_model"), meta.get("kernel")))
    print("ISA     : %s; traind tiers here: %s; traind's tier: %s"
          % (meta.get("cpu_flags") or "?", " ".join(meta.get("cpu_tiers", [])),
             traind_tier(meta.get("traind"))))
    print("versions: %s | python %s | numpy %s | torch %s"
          % (meta.get("traind"), meta.get("python"), meta.get("numpy"),
             meta.get("torch")))
    print("openblas: %s (core %s; it picked %s, OPENBLAS_CORETYPE=%s)"
          % (ob.get("config", "unknown"), ob.get("core", "unknown"),
             meta.get("openblas_detected_core") or "?",
             meta.get("openblas_coretype") or "unset"))
    if limit:
        print("limit   : sgemm 2048^3 %.1f GFLOP/s on 1 thread x %d core(s) / "
              "%d FLOP per sample = %s samples/s (the dense FP32 limit)"
              % (meta.get("sgemm_gflops_1thread"), meta.get("nproc") or 1,
                 FLOP_PER_SAMPLE, fmt_int(limit)))
    print("settings: %s" % meta.get("settings", ""))
    la0, la1 = meta.get("loadavg_at_start"), meta.get("loadavg_at_end")
    busy = meta.get("cpu_busy_before")
    if busy is not None and la0 and la1:
        print("load    : %.0f%% of the CPUs busy in the 2 s before the runs; "
              "1-min load avg %.2f before, %.2f after"
              % (100 * busy, la0[0], la1[0]))
        if busy > 0.25:
            print("WARNING: the machine was not idle; other processes "
                  "compete for the %s core(s) and the figures are low and "
                  "noisy. Rerun on a quiet machine." % meta.get("nproc"))


def print_tables(meta, results, tiers):
    print()
    print("median training samples/s over %s round(s), one epoch of the "
          "60k Fashion-MNIST training set, 784-128-10:" % meta.get("rounds"))
    print()
    cols = ["batch"] + HEADERS + ["traind2w / best(numpy,torch)",
                                  "2w/1w scaling", "sgemm %s/1" % meta.get("nproc"),
                                  "% of limit: traind2w", "numpy", "torch",
                                  "steal med/max"]
    rows = []
    for e in results:
        rows.append([str(e["batch_size"])]
                    + [fmt_int(e[c]["median_samples_per_second"])
                       for c in BASE]
                    + [fmt_ratio(e["traind_2w_vs_best_reference"]),
                       fmt_ratio(e["traind_scaling_2w_vs_1w"]),
                       fmt_ratio(e.get("sgemm_scaling_all_vs_1t"))]
                    + [fmt_pct(e[c]["share_of_dense_limit"])
                       for c in ("traind_2w", "numpy", "torch")]
                    + [fmt_steal(e.get("steal_pct_median"), e.get("steal_pct_max"))])
    print_table(cols, rows)
    worst = max([e["steal_pct_max"] for e in results
                 if e.get("steal_pct_max") is not None] or [0.0])
    print()
    print("steal: the share of the CPU time the hypervisor gave to other "
          "guests during the runs (/proc/stat), median and worst run.")
    if worst > STEAL_WARN_PCT:
        print("WARNING: up to %.0f%% steal: this VM did not always have its "
              "%s core(s) to itself; runs with steal are low, and the ratios "
              "between configurations are noisy. Rerun with more --rounds, "
              "or at a quieter time." % (worst, meta.get("nproc")))
    print()
    print("sgemm %s/1: OpenBLAS sgemm 2048^3 on all %s cores against one, "
          "measured beside each batch size in the same rounds (medians): "
          "the scaling this machine gave at the time, the ceiling for "
          "traind's 2w/1w." % (meta.get("nproc"), meta.get("nproc")))
    if tiers:
        print()
        print("traind --workers 2 per tier (TRAIND_ISA) and first layer "
              "(TRAIND_FIRST_LAYER), median samples/s; the avx2 rows on an "
              "AVX-512 CPU run OpenBLAS's Haswell kernels too:")
        print()
        cols = ["tier", "first layer"] + ["batch %d" % e["batch_size"]
                                          for e in results]
        rows = []
        for t in tiers:
            for p in PATHS:
                c = "tier_%s_%s" % (t, p)
                rows.append([t, p] + [fmt_int(e[c]["median_samples_per_second"])
                                      if c in e else "n/a" for e in results])
            rows.append([t, "auto took"]
                        + [e.get("tier_%s_auto_took" % t) or "?" for e in results])
            rows.append([t, "its path/best forced"]
                        + [fmt_ratio(e.get("tier_%s_pick_vs_best_forced" % t))
                           for e in results])
            rows.append([t, "auto/best forced"]
                        + [fmt_ratio(e["tier_%s_auto_vs_best_forced" % t])
                           for e in results])
            rows.append([t, "auto/best ref"]
                        + [fmt_ratio(e["tier_%s_auto_vs_best_reference" % t])
                           for e in results])
            if t == "avx2" and any(e.get("best_reference_avx2") for e in results):
                for c in ("numpy_avx2", "torch_avx2"):
                    rows.append([t, c.replace("_avx2", " held to AVX2")]
                                + [fmt_int(e[c]["median_samples_per_second"])
                                   if c in e else "n/a" for e in results])
                rows.append([t, "auto/best AVX2 ref"]
                            + [fmt_ratio(e.get("tier_avx2_auto_vs_best_reference_avx2"))
                               for e in results])
        print_table(cols, rows)
        if any(e.get("best_reference_avx2") for e in results):
            print()
            print("held to AVX2: numpy and torch run again as on an AVX2-only "
                  "CPU (OPENBLAS_CORETYPE=Haswell, NPY_DISABLE_CPU_FEATURES="
                  "AVX-512, ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2), "
                  "the peers of the avx2 stand-in; auto/best ref compares it "
                  "with the references as this CPU runs them.")


def cmd_report(raw_path, meta_path, out_path):
    with open(meta_path) as f:
        meta = json.load(f)
    runs = []
    with open(raw_path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            runs.append(row)

    configs, tiers = configs_and_tiers(runs)
    sgemm = meta.get("sgemm_gflops_1thread")
    limit = sgemm * 1e9 * (meta.get("nproc") or 1) / FLOP_PER_SAMPLE if sgemm else None
    meta["dense_fp32_limit_samples_per_second"] = limit
    results = batch_results(runs, configs, tiers, limit)
    meta["loadavg_at_end"] = loadavg()
    print_header(meta, limit)
    print_tables(meta, results, tiers)
    failed = sum(e[c]["failed"] for e in results for c in configs)
    if failed:
        print("\n%d run(s) failed; their configurations use the remaining "
              "rounds (n/a if none)." % failed)

    out = {
        "benchmark": "traind train-bench",
        "network": "784-128-10 relu/softmax cross-entropy, sgd lr 0.1",
        "dataset": "fashion-mnist train (60000)",
        "flop_per_sample": FLOP_PER_SAMPLE,
        "metric": "median samples_per_second (training, one epoch)",
        "meta": meta,
        "results": results,
        "runs": [{
            "round": int(r["round"]), "batch_size": int(r["batch_size"]),
            "config": r["config"], "status": r["status"],
            "samples_per_second": flt(r["samples_per_second"]),
            "seconds": flt(r["seconds"]),
            "train_loss": flt(r["train_loss"]),
            "steal_pct": flt(r.get("steal_pct")),
        } for r in runs],
    }
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    os.replace(tmp, out_path)
    print("\nwrote %s" % out_path)
    return 0


def main(argv):
    if len(argv) == 3 and argv[0] == "parse":
        return cmd_parse(argv[1], argv[2])
    if len(argv) == 1 and argv[0] == "meta":
        return cmd_meta()
    if len(argv) == 4 and argv[0] == "report":
        return cmd_report(argv[1], argv[2], argv[3])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

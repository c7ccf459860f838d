#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""fio-report.py DIR -- the markdown table of a run-fio.sh output directory.

Reads DIR/JOB.ENGINE.rN.json (fio --output-format=json), takes per (job
file, job, engine) the median over the repeats of bandwidth, mean completion
latency and its 99th percentile, and prints one row per job and baseline
engine with pmemlease's figures beside it, the ratio, and whether the target
(fio through leases within 5% of the baseline's bandwidth) is met.  The
ratio is the median of the repeats' own ratios (run N of pmemlease against
run N of the baseline, which ran next to it): the machine's drift between
repeats cancels out.  Printed, never asserted: the exit status is 0
whenever there was something to read.
"""
import glob
import json
import os
import re
import statistics
import sys

TARGET = 0.95  # pmemlease bandwidth >= 95% of the baseline's


def load(d):
    res = {}  # (jobfile, jobname, engine) -> list of (bw, mean, p99, rw, bs)
    for path in sorted(glob.glob(os.path.join(d, "*.r*.json"))):
        m = re.match(r"(.+)\.([^.]+)\.r(\d+)\.json$", os.path.basename(path))
        if not m:
            continue
        jobfile, engine, rep = m.group(1), m.group(2), int(m.group(3))
        try:
            with open(path) as f:
                text = f.read()
            # fio may print notes before the JSON object
            data = json.loads(text[text.index("{"):])
        except (ValueError, OSError) as e:
            print(f"fio-report: {path}: {e}", file=sys.stderr)
            continue
        glob_opts = data.get("global options", {})
        for job in data.get("jobs", []):
            opts = {**glob_opts, **job.get("job options", {})}
            rw = opts.get("rw", "?")
            ddir = "read" if "read" in rw else "write"
            st = job[ddir]
            if job.get("error"):
                print(f"fio-report: {path}: {job['jobname']} error "
                      f"{job['error']}", file=sys.stderr)
                continue
            clat = st.get("clat_ns", {})
            p99 = clat.get("percentile", {}).get("99.000000", float("nan"))
            res.setdefault((jobfile, job["jobname"], engine), {})[rep] = (
                st["bw_bytes"], clat.get("mean", float("nan")), p99,
                rw, opts.get("bs", "?"), opts.get("numjobs", "1"))
    return res


def med(runs, i):
    return statistics.median(v[i] for v in runs.values())


def paired(a, b):
    """median over the repeats both ran of a's bandwidth / b's"""
    r = [a[k][0] / b[k][0] for k in a if k in b and b[k][0]]
    return statistics.median(r) if r else float("nan")


def fmt_bw(b):
    return f"{b / 2**20:,.0f}"


def fmt_ns(n):
    return "-" if n != n else (f"{n:,.0f}" if n >= 10 else f"{n:.1f}")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d = sys.argv[1]
    res = load(d)
    if not res:
        print(f"fio-report: no fio JSON in {d}", file=sys.stderr)
        return 1
    info = os.path.join(d, "run-info.txt")
    if os.path.exists(info):
        with open(info) as f:
            for line in f:
                print(f"- {line.rstrip()}")
        print()
    jobs = sorted({(j, n) for j, n, _ in res})
    print("| job | rw, bs, jobs | baseline | baseline MiB/s | pmemlease "
          "MiB/s | ratio | no-lease MiB/s (ratio) | clat mean ns "
          "base / lease | clat p99 ns base / lease | n | within 5% |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for jobfile, name in jobs:
        pin = res.get((jobfile, name, "pmemlease-pin"))
        none = res.get((jobfile, name, "pmemlease-none"))
        for base in ("libpmem", "dev-dax"):
            b = res.get((jobfile, name, base))
            if not b:
                continue
            rw, bs, nj = next(iter(b.values()))[3:6]
            bbw, bmean, bp99 = med(b, 0), med(b, 1), med(b, 2)
            if pin:
                pbw, pmean, pp99 = med(pin, 0), med(pin, 1), med(pin, 2)
                ratio = paired(pin, b)
                met = "met" if ratio >= TARGET else "**not met**"
                pcol = fmt_bw(pbw)
                rcol = f"{ratio:.3f}"
            else:
                pmean = pp99 = float("nan")
                pcol, rcol, met = "-", "-", "no pmemlease run"
            if none:
                nbw = med(none, 0)
                ncol = f"{fmt_bw(nbw)} ({paired(none, b):.3f})"
            else:
                ncol = "-"
            print(f"| {jobfile}.fio [{name}] | {rw}, {bs}, {nj} | {base} | "
                  f"{fmt_bw(bbw)} | {pcol} | {rcol} | {ncol} | "
                  f"{fmt_ns(bmean)} / {fmt_ns(pmean)} | "
                  f"{fmt_ns(bp99)} / {fmt_ns(pp99)} | {len(b)} | {met} |")
    print()
    print("ratio: pmemlease (a PIN lease per I/O) bandwidth / baseline's; "
          "target >= 0.95 (printed, not asserted). no-lease: the same "
          "engine with pml_lease=none (region mapping and libpmem2 copy, "
          "no lease). Bandwidths and latencies: medians over n runs; "
          "ratios: medians of each run's ratio to the baseline's run next "
          "to it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

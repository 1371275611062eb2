#!/usr/bin/env python3
"""Joins the bench's table and FlashMLA's same-run timings into one short table.

Usage: scripts/same_run_table.py BENCH_LOG FLASHMLA_LOG

BENCH_LOG is the output of `snapmla bench` (its human-readable table), FLASHMLA_LOG that of
flashmla_compare (scripts/build_flashmla_compare.sh). For every shape in both it prints our FP8
and BF16 times, FlashMLA's, and how many times faster our FP8 call is; scripts/gpu_check.sh runs
it last, so that the comparison is in the few lines a remote run hands back. Exits with 1 when
either log has no timings (a failed run), so the check shows it.
"""
import re
import sys

# "  128    1   16    8192  eager   186.3    483.7     2.60x ..." (b, s_q, h_q, s_k, mode, fp8, bf16)
# A timing that failed prints as nan (tools/snapmla/report.cpp, fixed()).
BENCH_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(graph|eager)\s+([\d.]+|nan)\s+([\d.]+|nan)\s")
# "128x1x16x8192           311.6     no       3876"
FLASHMLA_ROW = re.compile(r"^(\d+x\d+x\d+x\d+)\s+([\d.]+)\s+(yes|no)\s")


def bench_rows(text):
    rows = {}
    for line in text.splitlines():
        m = BENCH_ROW.match(line)
        if m:
            b, s_q, h_q, s_k, mode, fp8, bf16 = m.groups()
            rows[f"{b}x{s_q}x{h_q}x{s_k}"] = (mode, fp8, bf16)
    return rows


def flashmla_rows(text):
    return {m.group(1): float(m.group(2)) for m in map(FLASHMLA_ROW.match, text.splitlines()) if m}


def table(bench_text, flashmla_text):
    ours, theirs = bench_rows(bench_text), flashmla_rows(flashmla_text)
    if not ours or not theirs:
        return None
    lines = [f"{'shape':18} {'mode':5} {'fp8 us':>9} {'bf16 us':>9} {'FlashMLA us':>12} {'FlashMLA / fp8':>15}"]
    for shape, (mode, fp8, bf16) in ours.items():
        if shape not in theirs:
            continue
        ratio = f"{theirs[shape] / float(fp8):.2f}x" if fp8 != "nan" else "-"
        lines.append(f"{shape:18} {mode:5} {fp8:>9} {bf16:>9} {theirs[shape]:>12.1f} {ratio:>15}")
    return "\n".join(lines)


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        bench_text = f.read()
    with open(argv[2]) as f:
        flashmla_text = f.read()
    out = table(bench_text, flashmla_text)
    if out is None:
        print("same_run_table: no timings in one of the logs", file=sys.stderr)
        return 1
    header = next((l for l in bench_text.splitlines() if l.startswith("snapmla bench on")), "")
    if header:
        print(header)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""CPU test of scripts/same_run_table.py on hand-written logs in the formats of `snapmla bench`
and flashmla_compare: shapes in both are joined in the bench's order with FlashMLA's time over
ours, a shape only one side timed is left out, a bench row whose FP8 call failed ("nan") keeps
its place without a ratio ("-"), and a log without timings is an error."""
import os
import subprocess
import sys
import tempfile

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "same_run_table.py")

BENCH = """\
snapmla bench on NVIDIA H200: copy roof 4234 GB/s (D2D memcpy, read+write), L2 63 MB flushed before each call
GEMM roofs: BF16 795 TFLOPS, FP8 1480 TFLOPS (cuBLASLt 8192^3, same run)

  b  s_q  h_q     s_k   mode  fp8 us  bf16 us  bf16/fp8  fp8 TFLOPS
-----------------------------------------------------------------
  1    1  128     640  graph    17.6     16.4     0.93x          10
128    1   16    8192  eager   186.3    483.7     2.60x         196
 64    1  128   65536  eager   2100.0   9843.1     4.69x         557
  8    1   16     640  graph     nan     15.8       nan         nan
"""

FLASHMLA = """\
check 2x1x16x700: max |err| / max |ref| = 2.834e-03
NVIDIA H200, 132 SMs; FlashMLA BF16 dense decode, us (median of 30, L2 flushed, graphs at b <= 8)
shape                      us  graph       GB/s
1x1x128x640              15.9    yes         46
128x1x16x8192           311.6     no       3876
8x1x16x640               16.4    yes        360
64x1x128x65536         1788.8     no       2701
1x1x16x8192              28.1    yes        335
"""


def run(bench, flashmla):
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for name, text in (("bench.log", bench), ("flashmla.log", flashmla)):
            paths.append(os.path.join(d, name))
            with open(paths[-1], "w") as f:
                f.write(text)
        return subprocess.run([sys.executable, SCRIPT, *paths], capture_output=True, text=True)


def main():
    r = run(BENCH, FLASHMLA)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("snapmla bench on NVIDIA H200"), lines[0]
    rows = [l.split() for l in lines[2:]]
    assert [row[0] for row in rows] == ["1x1x128x640", "128x1x16x8192", "64x1x128x65536", "8x1x16x640"], rows
    assert rows[0][1:] == ["graph", "17.6", "16.4", "15.9", "0.90x"], rows[0]
    assert rows[1][-1] == "1.67x", rows[1]  # 311.6 / 186.3
    assert rows[2][-1] == "0.85x", rows[2]  # 1788.8 / 2100.0
    assert rows[3][2] == "nan" and rows[3][-1] == "-", rows[3]
    assert "1x1x16x8192" not in r.stdout  # FlashMLA only
    bad = run(BENCH, "flashmla_compare: no GPU\n")
    assert bad.returncode == 1 and "no timings" in bad.stderr, (bad.returncode, bad.stderr)
    print("same_run_table: PASS")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# The FP8 decode kernels' agreement with the CPU emulation over fresh random inputs, on a
# machine with a Hopper GPU: the GPU tests' decode grids run again for SNAPMLA_TEST_SEED =
# 1..N (tests/gpu/gpu_decode.h), and the distribution of out rel L2 and lse max abs printed per
# route. The bounds in tests/common/tolerances.h come from this; run it again after a change to
# a kernel's arithmetic.
#
#   scripts/seed_sweep.sh [N]            (default 30 seeds; SNAPMLA_BUILD_DIR: the build, default build)
#   SNAPMLA_DECODE_KERNEL=simt scripts/seed_sweep.sh 30   (the SIMT kernels on the API's route)
#
# Grids: test_decode_gpu's head grid on the route the API picks (7 head counts x s_q 1, 2, 4,
# causal, three short requests), and test_decode_kernels_gpu's grid on every wgmma route forced
# (WgmmaFp8EveryRoute*). Logs and the raw lines go to $OUT (if set) or $BUILD/seed_sweep.
# The tests assert their bounds on every seed: the script exits 1 if any run failed (the
# distribution is printed either way), so scripts/gpu_check.sh runs a few seeds as a check.
set -uo pipefail
cd "$(dirname "$0")/.."
N=${1:-30}
BUILD=${SNAPMLA_BUILD_DIR:-build}
LOG=${OUT:-$BUILD/seed_sweep}
mkdir -p "$LOG"
RAW="$LOG/seed_sweep_${SNAPMLA_DECODE_KERNEL:-default}.txt"
: >"$RAW"
failed=0
for seed in $(seq 1 "$N"); do
  SNAPMLA_TEST_SEED=$seed "$BUILD/tests/gpu/snapmla.test.gpu.decode" --gtest_filter='Heads/*' >"$LOG/last.log" 2>&1 ||
    { failed=$((failed + 1)); cp "$LOG/last.log" "$LOG/failed_decode_seed$seed.log"; }
  grep -E " fp8 +parts" "$LOG/last.log" | sed "s/^/seed $seed api /" >>"$RAW"
  if [ -z "${SNAPMLA_DECODE_KERNEL:-}" ]; then
    SNAPMLA_TEST_SEED=$seed "$BUILD/tests/gpu/snapmla.test.gpu.decode_kernels" \
      --gtest_filter='Shapes/DecodeTcGrid.WgmmaFp8EveryRoute*' >"$LOG/last.log" 2>&1 ||
      { failed=$((failed + 1)); cp "$LOG/last.log" "$LOG/failed_decode_kernels_seed$seed.log"; }
    grep -E "^route" "$LOG/last.log" | sed "s/^/seed $seed /" >>"$RAW"
  fi
done
rm -f "$LOG/last.log"
python3 - "$RAW" <<'EOF'
import re, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.search(r"rel_l2 ([0-9.e+-]+) max_abs [0-9.e+-]+ lse ([0-9.e+-]+)", line)
    if m:
        route = line.split()[3] if line.split()[2] == "route" else "api"
        runs.setdefault(route, []).append((float(m.group(1)), float(m.group(2)), line.strip()))
def q(v, f):
    return v[min(len(v) - 1, int(f * len(v)))]
print(f"{'route':9s} {'runs':>5s} | out rel L2: median     p99      max  >2e-3 | lse max abs: median     p99      max")
for route, v in sorted(runs.items()):
    out = sorted(r[0] for r in v)
    lse = sorted(r[1] for r in v)
    print(f"{route:9s} {len(v):5d} |           {q(out, .5):.2e} {q(out, .99):.2e} {out[-1]:.2e} {sum(o > 2e-3 for o in out):5d}"
          f" |             {q(lse, .5):.2e} {q(lse, .99):.2e} {lse[-1]:.2e}")
worst = sorted((r for v in runs.values() for r in v), reverse=True)[:3]
print("largest out rel L2:")
for r in worst:
    print("  " + r[2][:160])
EOF
echo "seed_sweep: $N seeds, $failed test runs failed (their logs: $LOG/failed_*.log)"
[ "$failed" -eq 0 ]

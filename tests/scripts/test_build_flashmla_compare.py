#!/usr/bin/env python3
"""CPU test of scripts/build_flashmla_compare.sh's argument checks.

The build itself needs nvcc and a FlashMLA checkout (neither is in CI); what can run anywhere
is that a missing argument, a folder that is not a FlashMLA checkout and a missing CUTLASS are
refused with one clear line and a non-zero status, before anything is compiled.
"""
import os
import subprocess
import sys
import tempfile

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                      "build_flashmla_compare.sh")


def run(*args, env=None):
    r = subprocess.run(["bash", SCRIPT, *args], capture_output=True, text=True, env=env)
    return r.returncode, r.stderr.strip()


def main():
    failures = []
    rc, err = run()
    if rc == 0 or "usage" not in err:
        failures.append(f"no argument: rc {rc}, stderr {err!r}")
    with tempfile.TemporaryDirectory() as empty:
        rc, err = run(empty, os.path.join(empty, "out"))
        if rc != 2 or "a FlashMLA checkout?" not in err:
            failures.append(f"empty folder: rc {rc}, stderr {err!r}")
        if os.path.exists(os.path.join(empty, "out")):
            failures.append("empty folder: the output folder was created before the checks")
        # The source files present, CUTLASS not: a checkout-shaped folder with the files empty.
        csrc = os.path.join(empty, "fake", "csrc")
        for f in ("sm90/decode/dense/instantiations/bf16.cu", "smxx/decode/combine/combine.cu",
                  "smxx/decode/get_decoding_sched_meta/get_decoding_sched_meta.cu", "params.h"):
            os.makedirs(os.path.dirname(os.path.join(csrc, f)), exist_ok=True)
            open(os.path.join(csrc, f), "w").close()
        env = dict(os.environ, SNAPMLA_CUTLASS_SOURCE=os.path.join(empty, "no-cutlass"))
        rc, err = run(os.path.join(empty, "fake"), os.path.join(empty, "out"), env=env)
        if rc != 2 or "no CUTLASS" not in err:
            failures.append(f"no CUTLASS: rc {rc}, stderr {err!r}")
        if os.path.exists(os.path.join(empty, "out")):
            failures.append("no CUTLASS: the output folder was created before the checks")
    for f in failures:
        print("FAIL:", f)
    print("build_flashmla_compare argument checks:", "FAIL" if failures else "ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

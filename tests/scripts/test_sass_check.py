#!/usr/bin/env python3
"""CPU test of scripts/sass_check.py on small hand-written SASS listings (nvdisasm format).

Each case is a kernel whose per-block loop (the innermost backward branch around every HGMMA)
does or does not contain a local-memory access; the check must pass or fail accordingly,
also when some QGMMA (a PV drained after the loop) sits outside that loop.
"""
import io
import os
import sys
from contextlib import redirect_stdout

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import sass_check  # noqa: E402


def listing(body):
    """An nvdisasm-style function from (instruction or label) lines, addresses filled in."""
    out, addr = ["\t.text.decode_test_kernel:"], 0
    for item in body:
        if item.endswith(":"):
            out.append(item)
        else:
            out.append(f"        /*{addr:04x}*/                   {item} ;")
            addr += 0x10
    return "\n".join(out)


def run(text):
    with redirect_stdout(io.StringIO()) as printed:
        found = sass_check.kernels(text, "decode_test_kernel")
        ok = all(sass_check.check(name, lines) for name, lines in found.items()) if found else False
    return ok, printed.getvalue()


SEGMENT_HEAD = ["STL [R1], R0", ".L_x_1:"]  # a spill before the loops: allowed
BLOCK_LOOP = [".L_x_2:", "HGMMA.64x32x16.F32.BF16 R24, gdesc[UR4], RZ", "QGMMA.64x32x32.F32.E4M3.E4M3 R24, gdesc[UR8], R24",
              "FADD R2, R2, R24", "ISETP.GE.AND P0, PT, R3, R4, PT", "@!P0 BRA `(.L_x_2)"]
DRAIN = ["QGMMA.64x64x32.F32.E4M3.E4M3 R40, R8, gdesc[UR12], RZ", "WARPGROUP.DEPBAR.LE gsb0, 0x0"]
SEGMENT_TAIL = ["LDL R26, [R1]", "@P1 BRA `(.L_x_1)", "EXIT"]


def main():
    failures = []

    def expect(name, body, want_ok, want_text):
        ok, printed = run(listing(body))
        if ok != want_ok or want_text not in printed:
            failures.append(f"{name}: ok={ok}, wanted {want_ok} and {want_text!r} in:\n{printed}")

    # A spill outside the block loop (once a segment) passes; the drained QGMMA after the loop
    # does not widen the loop to the segment loop.
    expect("spill outside the block loop", SEGMENT_HEAD + BLOCK_LOOP + DRAIN + SEGMENT_TAIL, True,
           "0 in the per-block loop (5 instructions)")
    # A spill inside it fails.
    spilled = BLOCK_LOOP[:3] + ["LDL R5, [R1+0x4]"] + BLOCK_LOOP[3:]
    expect("spill inside the block loop", SEGMENT_HEAD + spilled + DRAIN + SEGMENT_TAIL, False,
           "1 in the per-block loop")
    # No HGMMA (no BF16 RoPE slice): fails.
    no_hgmma = [i for i in BLOCK_LOOP if "HGMMA" not in i]
    expect("no HGMMA", SEGMENT_HEAD + no_hgmma + SEGMENT_TAIL, False, "HGMMA 0")
    # No kernel of that name: fails.
    ok, _ = run("\t.text.other_kernel:\n        /*0000*/                   EXIT ;")
    if ok:
        failures.append("a listing without the kernel passed")

    for f in failures:
        print("FAIL", f)
    print("test_sass_check:", "FAIL" if failures else "PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""CPU test of scripts/profile_roles.py on a hand-written nvdisasm -gi listing and ncu table.

Two instantiations of a kernel share its name; the table's instructions are the second's, so
the script must pick it. Each instruction's samples must land on the role file the kernel file
calls it through (through deeper inlining too), on the kernel file itself for its own lines,
and an instruction without line markers inherits the chain before it.
"""
import csv
import io
import os
import re
import subprocess
import sys
import tempfile

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "profile_roles.py")
KERNEL = "/src/k/kernel.cuh"


def frames(*chain):
    """nvdisasm -gi markers for an inline chain, innermost (file, line) first."""
    out = []
    for k, (path, line) in enumerate(chain):
        if k + 1 < len(chain):
            out.append(f'\t//## File "{path}", line {line} inlined at "{chain[k + 1][0]}", line {chain[k + 1][1]}')
        else:
            out.append(f'\t//## File "{path}", line {line}')
    return out


def function(name, body):
    """body: (chain or None, instruction) pairs; chain None: no markers (inherits the last)."""
    out = [f"\t.section\t.text.{name},\"ax\",@progbits", f".text.{name}:"]
    for k, (chain, instr) in enumerate(body):
        if chain:
            out += frames(*chain)
        out.append(f"        /*{16 * k:04x}*/                   {instr} ;")
    return out


def main():
    qk = [("/src/k/components/qk.cuh", 40), (KERNEL, 100)]
    promote = [("/src/k/components/wgmma_ops.cuh", 7), ("/src/k/components/qk.cuh", 56), (KERNEL, 100)]
    pv = [("/src/k/components/pv.cuh", 120), (KERNEL, 130)]
    own = [(KERNEL, 90)]
    first = function("_Z11decode_testILi1EEvv", [(own, "MOV R1, R2"), (qk, "NOP")])
    second = function("_Z11decode_testILi2EEvv", [
        (qk, "QGMMA.64x64x32.F32.E4M3.E4M3 R24, gdesc[UR4], RZ, !UPT, gsb0"),
        (promote, "FADD R2, R2, R24"),
        (None, "FADD R3, R3, R25"),  # no markers: still the promotion
        (pv, "FFMA R5, R6, R7, R5"),
        (own, "BAR.SYNC.DEFER_BLOCKING 0x5, 0x100"),
    ])
    other = function("_Z5otherv", [(own, "EXIT")])
    sass = "\n".join(["\t.target\tsm_90a"] + first + other + second) + "\n"

    # The ncu table of the second instantiation: samples and stall columns per instruction.
    rows = [("QGMMA.64x64x32.F32.E4M3.E4M3 R24, gdesc[UR4], RZ, !UPT, gsb0", 10, 4, 6),
            ("FADD R2, R2, R24", 20, 20, 0), ("FADD R3, R3, R25", 30, 30, 0),
            ("FFMA R5, R6, R7, R5", 25, 5, 20), ("BAR.SYNC.DEFER_BLOCKING 0x5, 0x100", 15, 0, 15)]
    table = io.StringIO()
    writer = csv.writer(table, quoting=csv.QUOTE_ALL)
    writer.writerow(["Address", "Source", "Warp Stall Sampling (All Samples)", "Instructions Executed",
                     "stall_selected", "stall_short_sb", "stall_selected (Not Issued)"])
    for k, (source, samples, selected, short_sb) in enumerate(rows):
        writer.writerow([f"0x7f00{16 * k:04x}", f"      {source}", samples, 1000, selected, short_sb, 0])
    ncu = '"Kernel Name","decode_test<2>"\n' + table.getvalue()

    with tempfile.TemporaryDirectory() as d:
        sass_path, ncu_path = os.path.join(d, "k.sass"), os.path.join(d, "source.csv")
        open(sass_path, "w").write(sass)
        open(ncu_path, "w").write(ncu)
        done = subprocess.run([sys.executable, SCRIPT, "--ncu", ncu_path, "--sass", sass_path, "--kernel",
                               "decode_test", "--kernel-file", "k/kernel.cuh", "--lines", "3"],
                              capture_output=True, text=True)
    printed = done.stdout
    failures = []
    if done.returncode != 0:
        failures.append(f"exit status {done.returncode}: {done.stderr}")
    want = ["_Z11decode_testILi2EEvv: 5 instructions, 100 samples",  # the matching instantiation
            "qk.cuh                      60.0%",   # 10 + 20 + 30: through wgmma_ops.cuh and inherited
            "pv.cuh                      25.0%",
            "kernel.cuh                  15.0%",
            "short_sb 80%"]                        # pv.cuh: 20 of its 25
    for text in want:
        if text not in printed:
            failures.append(f"missing {text!r}")
    # The promotion's line, the innermost inside qk.cuh (not the call site in wgmma_ops.cuh).
    if not re.search(r"qk\.cuh:56\s+50\.0%", printed):
        failures.append("missing the line qk.cuh:56 with 50.0 %")
    if "did not match" in printed:
        failures.append("instructions reported as not matching the SASS")
    if failures:
        print("\n".join(failures) + "\n--- output:\n" + printed)
        return 1
    print("test_profile_roles: all cases passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

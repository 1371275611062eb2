#!/usr/bin/env python3
"""Evidence from the SASS of a decode kernel (cuobjdump -sass or nvdisasm output on stdin).

    cuobjdump -sass build/snapmla | scripts/sass_check.py decode_wgmma_kernel

Prints, for every kernel whose name contains the argument, its tensor-core instructions
(QGMMA: FP8 wgmma, HGMMA: BF16 wgmma) and the local-memory accesses (STL/LDL: register spills)
inside its per-block loop, found as the innermost backward branch that encloses every HGMMA
(the RoPE slice of QK, which only the per-block loop issues; some QGMMA of PV may run after it,
when a kernel drains the last block's PV after the loop).
Exits 1 when no kernel matches, or one has no QGMMA or HGMMA, or spills inside that loop.
"""
import re
import sys

INSTR = re.compile(r"^\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;")
LABEL = re.compile(r"^\s*(\.L_x_\d+):")


def kernels(text, name):
    """{function name: its lines} for every function whose name contains `name`."""
    found, current = {}, None
    for line in text.splitlines():
        header = re.search(r"Function\s*:\s*(\S+)", line) or re.match(r"^\s*\.text\.(\S+):", line)
        if header:
            current = header.group(1) if name in header.group(1) else None
            if current:
                found.setdefault(current, [])
            continue
        if current:
            found[current].append(line)
    return found


def check(label, lines):
    instrs, labels = [], {}
    pending = []
    for line in lines:
        m = LABEL.match(line)
        if m:
            pending.append(m.group(1))
            continue
        m = INSTR.match(line)
        if m:
            addr = int(m.group(1), 16)
            for lab in pending:
                labels[lab] = addr
            pending = []
            instrs.append((addr, m.group(2)))
    index = {a: i for i, (a, _) in enumerate(instrs)}
    qgmma = [i for i, (_, t) in enumerate(instrs) if "QGMMA" in t]
    hgmma = [i for i, (_, t) in enumerate(instrs) if "HGMMA" in t]
    spills = [i for i, (_, t) in enumerate(instrs) if re.search(r"\b(STL|LDL)\b", t)]
    loop = None
    if qgmma and hgmma:
        for i, (_, t) in enumerate(instrs):
            if "BRA" not in t:
                continue
            m = re.search(r"(\.L_x_\d+)", t)
            target = labels.get(m.group(1)) if m else None
            if target is None:
                m = re.search(r"BRA\s+(?:[!A-Z0-9]+,\s*)?0x([0-9a-f]+)", t)
                target = int(m.group(1), 16) if m else None
            if target is None or target not in index:
                continue
            lo = index[target]
            if lo <= hgmma[0] and i > hgmma[-1] and (loop is None or i - lo < loop[1] - loop[0]):
                loop = (lo, i)
    in_loop = [i for i in spills if loop and loop[0] <= i <= loop[1]]
    print(f"sass_check {label}: {len(instrs)} instructions, QGMMA {len(qgmma)}, HGMMA {len(hgmma)}, "
          f"STL/LDL {len(spills)} in the kernel, {len(in_loop)} in the per-block loop"
          + (f" ({loop[1] - loop[0] + 1} instructions)" if loop else " (loop not found)"))
    for i in in_loop:
        print(f"  spill in loop: /*{instrs[i][0]:04x}*/ {instrs[i][1]}")
    return bool(qgmma) and bool(hgmma) and loop is not None and not in_loop


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: sass_check.py KERNEL_NAME_SUBSTRING < sass.txt")
    found = kernels(sys.stdin.read(), sys.argv[1])
    if not found:
        print(f"sass_check: no kernel named like {sys.argv[1]!r}")
        return 1
    ok = all([check(name, lines) for name, lines in found.items()])
    print("sass_check: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

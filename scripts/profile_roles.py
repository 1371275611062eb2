#!/usr/bin/env python3
"""Warp-stall samples of one kernel, summed by the source file of each role (load, QK, softmax, PV,
epilogue, ...), from two inputs:

  --ncu   Nsight Compute's source page of one launch, as CSV:
          ncu --section SourceCounters --section WarpStateStats -k regex:<kernel> --launch-count 1 \
              --page source --csv --print-source sass <app> ...
  --sass  nvdisasm -c -gi of the cubin holding the kernel (the build has -lineinfo), which names
          for every instruction the chain of inlined calls it comes from.

An instruction belongs to the role file that the kernel file (--kernel-file, e.g.
decode_wgmma/kernel.cuh) calls it through: the frame just inside the innermost frame of the
kernel file. Instructions of the kernel file itself (its loop, barriers, hand-offs written inline)
count as that file. scripts/profile_roles.sh runs both tools and this script on the GPU machine.

Output: per role, the share of the samples, the warp instructions executed and the main stall
reasons; with --lines N, the N source lines (inside the role file) with the most samples.
"""
import argparse
import csv
import io
import re
import sys
from collections import defaultdict

FRAME = re.compile(r'//## File "([^"]+)", line (\d+)(?: inlined at "([^"]+)", line (\d+))?')
INSTR = re.compile(r'/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;')
SECTION = re.compile(r'^\.text\.(\S+):\s*$')


def read_sass(path, kernel):
    """For every function whose mangled name contains `kernel`: offset -> (instruction text,
    inline chain [(file, line), ...] innermost first)."""
    functions, chain, pending, current = {}, [], [], None
    with open(path) as f:
        for raw in f:
            line = raw.rstrip('\n')
            m = SECTION.match(line.strip())
            if m:
                current = functions.setdefault(m.group(1), {}) if kernel in m.group(1) else None
                chain, pending = [], []
                continue
            m = FRAME.search(line)
            if m:
                pending.append((m.group(1), int(m.group(2))))
                continue
            m = INSTR.search(line)
            if m and current is not None:
                if pending:
                    chain, pending = pending, []
                current[int(m.group(1), 16)] = (m.group(2), chain)
    return functions


def opcode(source):
    words = [w for w in source.split() if not w.startswith('@')]
    return words[0] if words else ''


def mismatches(rows, base, function):
    """Instructions of the ncu table whose opcode is not the SASS's at the same offset."""
    return sum(1 for r in rows if opcode(r['Source']) not in function.get(int(r['Address'], 16) - base, ('',))[0])


def number(text):
    try:
        return float(text.replace(',', ''))
    except (AttributeError, ValueError):
        return 0.0


def read_ncu(path):
    lines = open(path, errors='replace').read().splitlines()
    start = next((k for k, l in enumerate(lines) if l.startswith('"Address"')), None)
    if start is None:
        sys.exit(f'profile_roles: no source table ("Address" header) in {path}')
    return list(csv.DictReader(io.StringIO('\n'.join(lines[start:]))))


def role_of(chain, kernel_file):
    """(role file, line) for an inline chain, innermost frame first: the file called from the
    innermost frame of the kernel file, and the innermost line executing in that file."""
    if not chain:
        return '(no line info)', 0
    role_path = chain[-1][0]
    for k, (path, _) in enumerate(chain):
        if path.endswith(kernel_file):
            role_path = chain[k - 1][0] if k > 0 else path
            break
    line = next(line for path, line in chain if path == role_path)
    return role_path.split('/')[-1], line


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--ncu', required=True)
    ap.add_argument('--sass', required=True)
    ap.add_argument('--kernel', required=True, help='part of the mangled kernel name, e.g. decode_wgmma_kernel')
    ap.add_argument('--kernel-file', required=True, help='the kernel file, e.g. decode_wgmma/kernel.cuh')
    ap.add_argument('--lines', type=int, default=0, help='also list the N source lines with the most samples')
    args = ap.parse_args()

    functions = read_sass(args.sass, args.kernel)
    if not functions:
        sys.exit(f'profile_roles: no function matching {args.kernel} in {args.sass}')
    rows = read_ncu(args.ncu)
    base = int(rows[0]['Address'], 16)
    # Several instantiations may match the name: the one whose instructions are the table's.
    name = min(functions, key=lambda n: (mismatches(rows, base, functions[n]), abs(len(functions[n]) - len(rows))))
    sass = functions[name]
    stall_keys = [k for k in rows[0] if k.startswith('stall_') and 'Not Issued' not in k]
    samples, executed = defaultdict(float), defaultdict(float)
    stalls = defaultdict(lambda: defaultdict(float))
    by_line = defaultdict(float)
    mismatched = 0
    for r in rows:
        offset = int(r['Address'], 16) - base
        text, chain = sass.get(offset, ('', []))
        if not opcode(r['Source']) or opcode(r['Source']) not in text:
            mismatched += 1
        role, line = role_of(chain, args.kernel_file)
        s = number(r['Warp Stall Sampling (All Samples)'])
        samples[role] += s
        executed[role] += number(r['Instructions Executed'])
        by_line[(role, line)] += s
        for k in stall_keys:
            stalls[role][k[len('stall_'):]] += number(r[k])
    total = sum(samples.values()) or 1.0
    print(f'profile_roles: {name}: {len(rows)} instructions, {total:.0f} samples'
          + (f'; {mismatched} instructions did not match the SASS (another build?)' if mismatched else ''))
    print(f"{'role':24} {'samples':>8} {'warp instr':>12}  main stall reasons (share of the role's samples)")
    for role in sorted(samples, key=lambda x: -samples[x]):
        top = sorted(stalls[role].items(), key=lambda kv: -kv[1])[:4]
        reasons = ', '.join(f'{k} {100 * v / max(samples[role], 1):.0f}%' for k, v in top if v > 0)
        print(f'{role:24} {100 * samples[role] / total:7.1f}% {executed[role]:12.0f}  {reasons}')
    if args.lines:
        print(f'\nthe {args.lines} source lines with the most samples:')
        for (role, line), s in sorted(by_line.items(), key=lambda kv: -kv[1])[:args.lines]:
            print(f'  {role + ":" + str(line):28} {100 * s / total:5.1f}%')


if __name__ == '__main__':
    main()

#!/usr/bin/env python3
"""Shrinks a minimised corpus to at most CAP files by greedy set cover over edges.

Usage: select_corpus.py CONTROL_FILE CAP
CONTROL_FILE comes from a libFuzzer merge run with -use_counters=0 (see docs/fuzzing.md).
Files not selected are deleted; prints how many edges the kept files still cover.
"""
import os
import sys

ctl, cap = sys.argv[1], int(sys.argv[2])
lines = open(ctl).read().split("\n")
n = int(lines[0])
files = lines[2 : 2 + n]
cov = {}
for line in lines[2 + n :]:
    if line.startswith("COV "):
        parts = line.split()
        cov[int(parts[1])] = set(parts[2:])
every = set().union(*cov.values()) if cov else set()
chosen, got, cand = [], set(), dict(cov)
while cand and len(chosen) < cap:
    i = max(cand, key=lambda i: (len(cand[i] - got), -os.path.getsize(files[i])))
    new = cand.pop(i) - got
    if not new:
        break
    chosen.append(i)
    got |= new
keep = {files[i] for i in chosen}
for f in files:
    if f not in keep:
        os.remove(f)
pct = 100 * len(got) / max(len(every), 1)
print(f"kept {len(chosen)} of {n} files, {len(got)}/{len(every)} edges ({pct:.1f}%)")

#!/usr/bin/env python3
"""Reads what `vole ping` wrote on stderr and checks its diagnosis.

    pingdiag.py STDERR [--general TEXT]... [--client TEXT]... [--agent TEXT]...

The issue block (coder-behaviour.md §1.3) has general messages (lines
starting with the red exclamation mark, other than the verdict), then
"Possible client-side issues ..." and "Possible agent-side issues ..." lists
whose items start with " - ". Each TEXT must start exactly one message of
its section, and every message of every section must be expected: a message
nobody asked for is a false alarm. Exit 0 when so; 1 with the differences."""
import sys

VERDICT = "\u2757 You are connected"
BANG = "\u2757"
HEADERS = {
    "Possible client-side issues with direct connection:": "client",
    "Possible agent-side issues with direct connections:": "agent",
}


def parse(path):
    found = {"general": [], "client": [], "agent": []}
    section = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line in HEADERS:
                section = HEADERS[line]
            elif line.startswith(" - ") and section:
                found[section].append(line[3:])
            elif line.startswith(BANG) and not line.startswith(VERDICT):
                found["general"].append(line)
            elif line.startswith("\u2714 You are connected") or line.startswith(VERDICT):
                section = None
    return found


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    want = {"general": [], "client": [], "agent": []}
    args = argv[2:]
    if len(args) % 2:
        print("pingdiag: every flag needs a TEXT", file=sys.stderr)
        return 2
    for flag, text in zip(args[::2], args[1::2]):
        key = flag.lstrip("-")
        if key not in want:
            print(f"pingdiag: unknown flag {flag}", file=sys.stderr)
            return 2
        want[key].append(text)
    found = parse(argv[1])
    problems = []
    for key in ("general", "client", "agent"):
        msgs = found[key]
        for text in want[key]:
            n = sum(1 for m in msgs if m.startswith(text))
            if n != 1:
                problems.append(f"{key}: {n} messages start with {text!r}")
        for m in msgs:
            if not any(m.startswith(t) for t in want[key]):
                problems.append(f"{key}: unexpected {m!r}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

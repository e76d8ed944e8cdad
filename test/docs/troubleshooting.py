#!/usr/bin/env python3
"""docs/TROUBLESHOOTING.md matches what `vole ping` prints.

Every link anchor in the messages of diag/ping_*.c (".../TROUBLESHOOTING.md#anchor")
must be a heading of the document (GitHub's anchor rules), and the words of every
message (the string literals passed to add(), split at format directives) must
appear in the document, whitespace and Markdown backticks aside.

usage: test/docs/troubleshooting.py [REPO]   exit 0 when all match, 1 otherwise"""
import pathlib
import re
import sys


def c_strings(call_args):
    """The concatenated C string literals of one call's arguments."""
    return "".join(bytes(m, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")
                   for m in re.findall(r'"((?:[^"\\]|\\.)*)"', call_args))


def messages(src):
    """(file, text) for every add(LIST, "..." ...) call."""
    out = []
    for path in sorted(src.glob("ping_*.c")):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r'\badd\(\s*[^,]+,\s*((?:"(?:[^"\\]|\\.)*"\s*)+)', text):
            s = c_strings(m.group(1))
            if s != "%s":
                out.append((path.name, s))
    # the MTU warning's words live in ifaces.c (vole_ifaces_mtu_message)
    text = (src / "ifaces.c").read_text(encoding="utf-8")
    for m in re.finditer(r'snprintf\(\s*buf,\s*len,\s*((?:"(?:[^"\\]|\\.)*"\s*)+)', text):
        out.append(("ifaces.c", c_strings(m.group(1))))
    return out


def anchors_used(src):
    found = set()
    for path in sorted(src.glob("ping_*.c")):
        found.update(re.findall(r'#([a-z0-9-]+)(?:\\n)?"', path.read_text(encoding="utf-8")))
    return found


def github_anchor(heading):
    a = heading.strip().lower()
    a = re.sub(r"[^\w\- ]", "", a)
    return a.replace(" ", "-")


def norm(s):
    return re.sub(r"\s+", " ", s.replace("`", "")).strip()


def main(argv):
    repo = pathlib.Path(argv[1] if len(argv) > 1 else ".")
    doc_text = (repo / "docs/TROUBLESHOOTING.md").read_text(encoding="utf-8")
    headings = {github_anchor(h) for h in re.findall(r"^#+ (.+)$", doc_text, re.M)}
    doc = norm(doc_text)
    problems = []
    used = anchors_used(repo / "diag")
    for a in sorted(used):
        if a not in headings:
            problems.append(f"anchor #{a} is no heading of docs/TROUBLESHOOTING.md")
    msgs = messages(repo / "diag")
    for name, text in msgs:
        first = text.split("\n")[0]           # the link line is checked above
        for piece in re.split(r"%[a-z]", first):
            piece = norm(piece.strip(" ,;"))
            if len(piece) >= 12 and piece not in doc:
                problems.append(f"{name}: {piece!r} is not in docs/TROUBLESHOOTING.md")
    for p in problems:
        print(p)
    print(f"troubleshooting doc: {len(used)} anchors, {len(msgs)} messages, {len(problems)} problems")
    return 1 if problems or not used or not msgs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

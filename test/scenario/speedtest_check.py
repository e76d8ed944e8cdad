#!/usr/bin/env python3
"""Checks one `vole speedtest` output (test/scenario/speedtest.sh).

usage: speedtest_check.py table|json FILE DURATION_S

Prints one line: "ok: SUMMARY" (exit 0) or "bad: WHY" (exit 1).  Never
judges speed: only the shape of the output and that its figures agree.

Facts the checks rest on (diag/speedtest.h, coder-behaviour.md section 2):
bytes move in whole 2 MiB blocks (16.777216 Mbit); an interval closes after
the first block that ends 1 s or more after the previous one, so every
interval but the last lasts at least 1 s and intervals follow each other
without a gap from 0.00; the sender stops after the first block that ends
past the duration, so the last interval ends at or just after it; the
total counts every block, including those of a last stretch of at most
10 ms that is not shown as an interval (as Go's client does).
"""
import json
import re
import sys

BLOCK_MBITS = 2 * 1024 * 1024 * 8 / 1e6
COLS = (13, 15, 18)   # diag/speedtest_format.h
ROW = re.compile(r"^(\d+\.\d{2})-(\d+\.\d{2}) sec$")


class Bad(Exception):
    pass


def render(a, b, c):
    return "%-*s  %-*s  %-*s  " % (COLS[0], a, COLS[1], b, COLS[2], c)


def whole_blocks(mbits, tol):
    """mbits is k whole blocks (k >= 0) within tol; returns k."""
    k = round(mbits / BLOCK_MBITS)
    if abs(mbits - k * BLOCK_MBITS) > tol:
        raise Bad("%.4f Mbit is not a whole number of 2 MiB blocks" % mbits)
    return k


def check_intervals(iv, duration, slack):
    """iv: [(start, end)] in seconds, printed with `slack` rounding."""
    if not iv:
        raise Bad("no interval")
    if iv[0][0] != 0:
        raise Bad("the first interval starts at %.2f, not 0" % iv[0][0])
    for i, (s, e) in enumerate(iv):
        if i and abs(s - iv[i - 1][1]) > slack:
            raise Bad("interval %d starts at %.4f, the previous one ended at %.4f" % (i + 1, s, iv[i - 1][1]))
        if e <= s:
            raise Bad("interval %d is empty or reversed (%.4f-%.4f)" % (i + 1, s, e))
        if i < len(iv) - 1 and e - s < 1 - 2 * slack:
            raise Bad("interval %d lasts %.4f s, under the 1 s increment" % (i + 1, e - s))
    end = iv[-1][1]
    if end < duration - 0.05:
        raise Bad("the intervals end at %.2f s, before the %d s duration" % (end, duration))
    # at least 1 s each but the last, ending about `duration` (a block past
    # it): `duration` rows, one fewer if a block straddles a second, one
    # more if the last stretch passes 10 ms
    if not duration - 1 <= len(iv) <= duration + 1:
        raise Bad("%d intervals for a %d s test" % (len(iv), duration))
    return end


def check_total(total, total_end, parts, last_end, slack):
    """total Mbit vs the intervals' sum; a gap of whole blocks is allowed
    only when the total ends with or after the last interval (the unshown
    stretch of at most 10 ms; the table shows times to 0.01 s, so the two
    ends may print the same)."""
    s = sum(parts)
    if abs(total - s) <= slack:
        return "total %.4f Mbit = sum of the intervals" % total
    k = whole_blocks(total - s, slack) if total > s else 0
    # at the test's average rate, how many blocks can end within 10 ms
    most = 1 + int(total / max(total_end, 0.01) * 0.0105 / 16.777216)
    if 1 <= k <= most and 0 <= total_end - last_end <= 0.0105 + 0.01:
        return "total %.4f Mbit = sum of the intervals + %d block(s) of the last <= 10 ms" % (total, k)
    raise Bad("total %.4f Mbit != sum of the intervals %.4f Mbit" % (total, s))


def check_table(text, duration):
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 4:
        raise Bad("%d lines, want a header, rows, a separator and a total" % len(lines))
    if lines[0] != render("INTERVAL", "TRANSFER", "BANDWIDTH"):
        raise Bad("header %r" % lines[0])
    if lines[-2] != "-" * (sum(COLS) + 6):
        raise Bad("no separator before the last line: %r" % lines[-2])
    rows = []
    for ln in lines[1:-2] + [lines[-1]]:
        cells = ln.split()
        if len(cells) != 6:
            raise Bad("row %r" % ln)
        m = ROW.match(cells[0] + " " + cells[1])
        if not m or cells[3] != "MBits" or cells[5] != "Mbits/sec" or \
                not re.fullmatch(r"\d+\.\d{4}", cells[2]) or not re.fullmatch(r"\d+\.\d{4}", cells[4]):
            raise Bad("row %r" % ln)
        if ln != render(cells[0] + " " + cells[1], cells[2] + " " + cells[3], cells[4] + " " + cells[5]):
            raise Bad("row not padded as the header: %r" % ln)
        s, e, mb, bw = float(m.group(1)), float(m.group(2)), float(cells[2]), float(cells[4])
        # bandwidth = transfer / seconds, with the seconds printed to 0.01
        if abs(bw * (e - s) - mb) > bw * 0.0101 + 0.0002:
            raise Bad("row %r: %.4f MBits over %.2f s is not %.4f Mbits/sec" % (ln, mb, e - s, bw))
        whole_blocks(mb, 0.00006)
        rows.append((s, e, mb))
    iv, (ts, te, tmb) = rows[:-1], rows[-1]
    end = check_intervals([(s, e) for s, e, _ in iv], duration, 0.0051)
    if ts != 0:
        raise Bad("the total row starts at %.2f" % ts)
    if te < end:
        raise Bad("the total ends at %.2f, before the last interval (%.2f)" % (te, end))
    tot = check_total(tmb, te, [mb for _, _, mb in iv], end, 0.00006 * (len(iv) + 1))
    return "%d interval rows 0.00-%.2f s, %s" % (len(iv), end, tot)


def check_json(text, duration):
    try:
        d = json.loads(text)
    except ValueError as e:
        raise Bad("not JSON: %s" % e)
    keys = ["start_time_seconds", "end_time_seconds", "throughput_mbits"]

    def obj(o, what):
        if not isinstance(o, dict) or sorted(o) != sorted(keys) or \
                not all(isinstance(o[k], (int, float)) and not isinstance(o[k], bool) for k in keys):
            raise Bad("%s is not {%s} of numbers: %r" % (what, ", ".join(keys), o))
        return o["start_time_seconds"], o["end_time_seconds"], o["throughput_mbits"]

    if not isinstance(d, dict) or sorted(d) != ["intervals", "overall"] or not isinstance(d["intervals"], list):
        raise Bad("top level is not {overall, intervals: [...]}: %.200r" % d)
    os_, oe, omb = obj(d["overall"], "overall")
    iv = [obj(o, "interval %d" % (i + 1)) for i, o in enumerate(d["intervals"])]
    if os_ != 0:
        raise Bad("overall starts at %r" % os_)
    end = check_intervals([(s, e) for s, e, _ in iv], duration, 1e-9)
    if oe < end - 1e-9:
        raise Bad("overall ends at %r, before the last interval (%r)" % (oe, end))
    parts = []
    for s, e, mb in iv:
        parts.append(mb * (e - s))
        whole_blocks(parts[-1], 1e-6)
    tot = check_total(omb * oe, oe, parts, end, 1e-6 * (len(iv) + 1))
    return "%d intervals 0-%.4f s, %s" % (len(iv), end, tot)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("table", "json"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        with open(sys.argv[2]) as f:
            text = f.read()
        check = check_table if sys.argv[1] == "table" else check_json
        print("ok: " + check(text, int(sys.argv[3])))
        return 0
    except (Bad, OSError) as e:
        print("bad: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())

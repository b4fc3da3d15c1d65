#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Regenerate the rare letter-pair table of src/report/classify.c from a word list.

A pair is rare when it occurs fewer than THRESHOLD times among the distinct lower-case
all-letter words of the list (Debian's wamerican: /usr/share/dict/words). Prints the 26 rows
as C; with --check, compares them with the table in classify.c and exits 1 on a difference.
"""
import re
import sys

THRESHOLD = 20
WORDS = "/usr/share/dict/words"
SRC = "src/report/classify.c"


def table(path):
    counts = {}
    words = set()
    with open(path, encoding="utf-8", errors="ignore") as f:
        for line in f:
            w = line.strip().lower()
            if re.fullmatch(r"[a-z]+", w):
                words.add(w)
    for w in words:
        for a, b in zip(w, w[1:]):
            counts[a + b] = counts.get(a + b, 0) + 1
    rows = []
    for a in range(26):
        bits = 0
        for b in range(26):
            if counts.get(chr(97 + a) + chr(97 + b), 0) < THRESHOLD:
                bits |= 1 << b
        rows.append(bits)
    return rows, len(words)


def main():
    args = [a for a in sys.argv[1:] if a != "--check"]
    rows, nwords = table(args[0] if args else WORDS)
    text = "".join(
        "    0x%07x, /* %s: %s */\n"
        % (bits, chr(97 + a), "".join(chr(97 + b) for b in range(26) if bits >> b & 1))
        for a, bits in enumerate(rows))
    if "--check" not in sys.argv:
        sys.stdout.write("/* %d words, threshold %d */\n%s" % (nwords, THRESHOLD, text))
        return 0
    src = open(SRC, encoding="utf-8").read()
    have = [int(x, 16) for x in re.findall(r"0x([0-9a-f]{7}), /\* [a-z]:", src)]
    if have != rows:
        print("classify.c rare_bigrams differ from %s" % (args[0] if args else WORDS))
        return 1
    print("rare_bigrams match (%d words, threshold %d)" % (nwords, THRESHOLD))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Bits per character that general-purpose compressors need for a text file (chapter 6 compares them with
the character model's validation loss).

    python3 bench/compress_bits.py data/moby-dick.txt

Each compressor runs at its highest setting, from Python's standard library, on the whole file; the size
of its output in bits is divided by the number of characters (not bytes) of the text.
"""

import bz2
import gzip
import lzma
import sys

path = sys.argv[1]
data = open(path, "rb").read()
chars = len(data.decode("utf-8"))
print(f"{path}: {chars} characters, {len(data)} bytes (UTF-8)")
for name, compress in [
    ("gzip -9", lambda b: gzip.compress(b, compresslevel=9, mtime=0)),
    ("bzip2 -9", lambda b: bz2.compress(b, compresslevel=9)),
    ("xz -9", lambda b: lzma.compress(b, preset=9)),
]:
    size = len(compress(data))
    print(f"{name:<9} {size:>7} bytes  {8 * size / chars:.3f} bits/char")

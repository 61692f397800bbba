"""Write the small fake (synthetic) data set used by tests and notebooks into a folder.

    .venv/bin/python data/make_fake_data.py OUTDIR [--size 256 256] [--seed 0]

Nothing it writes is committed: tests build the same files into temporary folders through
``helpers.data.write_fake_dataset``, which this script calls. Same seed -> byte-identical pixels.
See data/README.md for the layout and what each file is for.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from helpers.data import write_fake_dataset


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="folder to write into (created if missing)")
    parser.add_argument("--size", nargs=2, type=int, default=[256, 256], metavar=("ROWS", "COLS"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    files = write_fake_dataset(args.outdir, size=tuple(args.size), seed=args.seed)
    for name, path in files.items():
        print(f"{name:24s} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The floor F: one process that walks a tree and runs ``ast.parse`` on every Python file.

    python bench/floor.py ROOT

Nothing else: no pre-filter, no SQL, no output. dbowner's targets are stated relative to this.
"""
from __future__ import annotations

import ast
import os
import sys


def main(root: str) -> None:
    files = nbytes = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".py"):
                with open(os.path.join(dirpath, name), "rb") as f:
                    data = f.read()
                ast.parse(data)
                files += 1
                nbytes += len(data)
    print(f"{files} files, {nbytes} bytes parsed", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])

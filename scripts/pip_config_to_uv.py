"""Print pip's configured package sources as uv flags, one per line (for scripts/install.sh).

uv does not read pip's configuration files or PIP_* variables; without this a machine whose pip
points at a local index or wheel folder would send uv elsewhere. Reads ``pip config list`` (files
and environment alike) from stdin; a cert becomes SSL_CERT_FILE, which install.sh exports.
"""
from __future__ import annotations

import shlex
import sys

FLAGS = {"index-url": "--index-url", "extra-index-url": "--extra-index-url",
         "find-links": "--find-links", "constraint": "--constraint"}


def uv_flags(pip_config_list: str) -> list:
    out, seen = [], set()
    for line in pip_config_list.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        name = key.rsplit(".", 1)[-1].strip()
        values = shlex.split(value)[0].split() if value.strip() else []
        pairs = [(FLAGS[name], v) for v in values] if name in FLAGS else (
            [(f"SSL_CERT_FILE={values[0]}",)] if name == "cert" and values else [])
        for pair in pairs:  # a setting given in a file and in the environment is passed once
            if pair not in seen:
                seen.add(pair)
                out += pair
    return out


if __name__ == "__main__":
    print("\n".join(uv_flags(sys.stdin.read())))

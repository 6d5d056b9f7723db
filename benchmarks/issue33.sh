#!/usr/bin/env bash
# Every row of the README's "Measured: ALFWorld resets, batched pools and retrieval (issue 33)"
# section, in one run, as JSON lines (about 5-8 minutes on 2 quiet cores).
#
#     bash benchmarks/issue33.sh                # all rows
#     bash benchmarks/issue33.sh household      # only the rows whose name contains "household"
#
# Before each row it prints {"row": NAME, "cmd": ..., "uptime": ...}: only ratios from one
# benchmark run mean something, and the machine's load says how far to trust them. Then the
# benchmark's own JSON lines, each with "row" added. ALFWorld rows need the games: $ALFWORLD_DATA,
# else scripts/alfworld_data.sh unpacks them (from ../shared/data/alfworld or $ALFWORLD_ARCHIVES).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
ONLY=${1:-}
if [ -z "${ALFWORLD_DATA:-}" ] || [ ! -d "$ALFWORLD_DATA/json_2.1.1" ]; then
  ALFWORLD_DATA=$(bash scripts/alfworld_data.sh ${ALFWORLD_ARCHIVES:-})
fi
export ALFWORLD_DATA
WORK=$(mktemp -d -t issue33-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# row NAME CMD...: header line, then the command's JSON lines tagged with the row's name.
row() {
  local name=$1; shift
  case "$name" in *"$ONLY"*) ;; *) return 0 ;; esac
  "$PY" -c 'import json, shlex, sys; print(json.dumps({"row": sys.argv[1], "cmd": shlex.join(sys.argv[3:]),
"uptime": sys.argv[2]}), flush=True)' "$name" "$(uptime)" "$@"
  "$@" 2>"$WORK/$name.err" | "$PY" -c '
import json, sys
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{"):
        print(json.dumps({"row": sys.argv[1], **json.loads(line)}), flush=True)' "$name" \
    || { echo "{\"row\": \"$name\", \"error\": \"failed, see stderr below\"}"; tail -20 "$WORK/$name.err" >&2; }
}

# 1. ALFWorld in-process: stock engine, sped-up on an empty engine cache, sped-up on the disk
#    cache the cold row wrote (a fresh memory, as a second epoch or another worker has).
row alfworld_resets "$PY" benchmarks/env_throughput.py --env alfworld_stock,alfworld_cold,alfworld \
  --actors "" --episodes 4 --max_steps 30 --engine_cache "$WORK/engine"

# 2. The differential test: byte-identical play on 18 valid_seen/valid_unseen games; its timings.
row alfworld_differential "$PY" -m pytest -q -s -p no:cacheprovider \
  tests/agent_system/environments/alfworld/test_speedups_differential.py::test_random_play_is_byte_identical_with_and_without_speedups

# 3. Embedding retrieval with a 1,000-skill bank, a batch of 16 new tasks.
row retrieval "$PY" benchmarks/skill_retrieval.py --calls 20 --batch 16

# 4. ALFWorld Ray pools of 1 and 2 actors, 8 environments, games already in the disk cache (the
#    first, unreported run translates them).
"$PY" benchmarks/env_throughput.py --env alfworld --envs 8 --actors 1,2 --episodes 1 --max_steps 30 \
  --engine_cache "$WORK/pool-engine" >/dev/null 2>&1 || true
row alfworld_pools "$PY" benchmarks/env_throughput.py --env alfworld --envs 8 --actors 1,2 --episodes 1 \
  --max_steps 30 --engine_cache "$WORK/pool-engine"

# 5. Household: one environment in-process, 32 environments on Ray pools of 1 and 2 actors.
row household_pools "$PY" benchmarks/env_throughput.py --env household --envs 32 --actors 1,2 --seconds 3

#!/usr/bin/env bash
# Start the retrieval server that the search environment queries (POST /retrieve, the request and
# response shape of Search-R1's server, so its clients work unchanged).
#   CORPUS=/path/to/wiki-18.jsonl      # one {"id": ..., "contents": "Title\ntext"} per line
#   RETRIEVER=bm25|dense               # dense: sentence-transformers (default: the offline MiniLM)
#   bash examples/search/retrieval_launch.sh [--port 8000] [--topk 3] [--model DIR] [--embedding_cache FILE]
# Then train with env.search.retrieval_url=http://127.0.0.1:8000/retrieve (the default).
# A corpus to try it on: python -m agent_system.environments.search.demo_data /tmp/search_demo
set -euo pipefail
: "${CORPUS:?set CORPUS to a JSONL passage file (one {\"id\", \"contents\"} object per line)}"
RETRIEVER=${RETRIEVER:-bm25}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
PYTHON=${PYTHON:-python3}

exec "$PYTHON" -m skillrl.retrieval.server --corpus "$CORPUS" --retriever "$RETRIEVER" \
    --host "$HOST" --port "$PORT" "$@"

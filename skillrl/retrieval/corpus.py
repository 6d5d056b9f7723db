"""JSONL passage corpora: one ``{"id": ..., "contents": "Title\\ntext"}`` object per line.

``contents`` holds the title on its first line, as in the Wikipedia dumps that Search-R1 and
FlashRAG distribute. Lines with ``title`` and ``text`` instead of ``contents`` are accepted and
joined the same way, so both common layouts load without conversion.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List


@dataclass
class Document:
    id: str
    contents: str  # title, newline, passage text

    @property
    def title(self) -> str:
        return self.contents.split("\n", 1)[0].strip().strip('"')

    @property
    def text(self) -> str:
        parts = self.contents.split("\n", 1)
        return parts[1].strip() if len(parts) > 1 else ""

    def to_dict(self) -> Dict[str, str]:
        return {"id": self.id, "contents": self.contents}


def _document_from(obj: Any, where: str) -> Document:
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a JSON object with 'id' and 'contents', got {type(obj).__name__}")
    if "contents" in obj:
        contents = obj["contents"]
    elif "text" in obj:
        contents = f"{obj.get('title', '')}\n{obj['text']}"
    else:
        raise ValueError(f"{where}: a corpus line needs 'contents' (or 'title' and 'text'); keys found: {sorted(obj)}")
    if not isinstance(contents, str):
        raise ValueError(f"{where}: 'contents' must be a string")
    doc_id = obj.get("id", obj.get("_id"))
    if doc_id is None:
        raise ValueError(f"{where}: a corpus line needs an 'id'")
    return Document(id=str(doc_id), contents=contents)


def load_corpus(path: str) -> List[Document]:
    """Read every passage of a JSONL corpus; errors name the file and line to fix."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"retrieval corpus {path} does not exist; give a JSONL file with one "
            '{"id": ..., "contents": "Title\\ntext"} object per line (--corpus / env var SEARCH_CORPUS)'
        )
    docs: List[Document] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{where}: not valid JSON ({e.msg})") from None
            docs.append(_document_from(obj, where))
    if not docs:
        raise ValueError(f"retrieval corpus {path} holds no passages")
    return docs

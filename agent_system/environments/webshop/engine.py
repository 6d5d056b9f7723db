"""Product search for WebShop: BM25 over each product's text, as WebShop's Lucene engine indexes it.

A product's document is its title, description, first feature bullet and option values, lower
cased (the fields WebShop indexes). Results are capped at 50, shown 10 per page, as in WebShop.
"""
from __future__ import annotations

from typing import Any, Dict, List

from skillrl.retrieval.bm25 import BM25Index

TOP_N = 50
PAGE_SIZE = 10


def product_document(p: Dict[str, Any]) -> str:
    option_text = ", and ".join(f"{name}: {', '.join(vals)}" for name, vals in p.get("options", {}).items())
    first_bullet = p["BulletPoints"][0] if p.get("BulletPoints") else ""
    return " ".join([p["Title"], p["Description"], str(first_bullet), option_text]).lower()


class ProductSearch:
    def __init__(self, products: List[Dict[str, Any]]):
        self.asins = [p["asin"] for p in products]
        self.index = BM25Index([product_document(p) for p in products], show_progress=len(products) > 20000)

    def search(self, query: str, top_n: int = TOP_N) -> List[str]:
        """ASINs of the best matches, best first (empty when no query word occurs in the catalog)."""
        return [self.asins[i] for i, _ in self.index.search(query.lower(), top_n)]

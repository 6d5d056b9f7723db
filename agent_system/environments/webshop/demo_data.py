"""A small WebShop-format catalog (a dozen invented products) for smoke runs, examples and tests.

It writes the three files the real release has, in the same formats, so everything downstream
(catalog loading, goals, search, reward) runs exactly as on the real data:
``python -m agent_system.environments.webshop.demo_data OUT_DIR``.
"""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List, Tuple

# asin, title, category, query, product category path, price, options, attributes, human goals
# (instruction, attributes, options), feature bullets
_PRODUCTS: List[Tuple[Any, ...]] = [
    ("B0DEMO0001", "Men's Crew Neck Cotton T-Shirt, Short Sleeve Everyday Tee", "fashion", "men's t-shirts",
     "Clothing, Shoes & Jewelry › Men › Clothing › Shirts › T-Shirts", "$15.99",
     {"Color": ["Black", "Heather Grey"], "Size": ["Medium", "Large", "X-Large"]},
     ["machine wash", "short sleeve", "cotton"],
     [("i need a short sleeve men's t-shirt that is machine wash, in black and large",
       ["short sleeve", "machine wash"], ["black", "large"])],
     ["100% cotton, machine wash cold", "Classic crew neck, short sleeve fit"]),
    ("B0DEMO0002", "Women's High Waist Yoga Leggings with Pockets", "fashion", "women's leggings",
     "Clothing, Shoes & Jewelry › Women › Clothing › Active › Leggings", "$22.50",
     {"Color": ["Navy Blue", "Black"], "Size": ["Small", "Medium"]},
     ["high waist", "tummy control", "pockets"],
     [("i want high waist yoga leggings with tummy control, navy blue, size small",
       ["high waist", "tummy control"], ["navy blue", "small"])],
     ["High waist with tummy control", "Two side pockets"]),
    ("B0DEMO0003", "Men's Lightweight Running Shoes Breathable Mesh Sneakers", "fashion", "men's running shoes",
     "Clothing, Shoes & Jewelry › Men › Shoes › Athletic › Running", "$39.99",
     {"Color": ["Grey", "Blue"], "Size": ["9", "10", "11"]},
     ["lightweight", "rubber sole", "breathable"],
     [("i am looking for lightweight running shoes with a rubber sole in size 10, blue",
       ["lightweight", "rubber sole"], ["blue", "10"])],
     ["Breathable knit mesh upper", "Non-slip rubber sole"]),
    ("B0DEMO0004", "Women's Waterproof Winter Snow Boots Faux Fur Lined", "fashion", "women's boots",
     "Clothing, Shoes & Jewelry › Women › Shoes › Boots › Snow Boots", "$54.00",
     {"Size": ["7", "8"]},
     ["waterproof", "faux fur", "anti-slip"],
     [("find me waterproof snow boots for women with faux fur lining, size 8", ["waterproof", "faux fur"], ["8"])],
     ["Waterproof shell", "Warm faux fur lining"]),
    ("B0DEMO0005", "Wireless Bluetooth Headphones Over Ear with Noise Cancelling", "electronics",
     "bluetooth headphones",
     "Electronics › Headphones, Earbuds & Accessories › Headphones › Over-Ear", "$59.99",
     {"Color": ["Black", "White"]},
     ["noise cancelling", "wireless bluetooth", "long battery life"],
     [("i need over ear wireless bluetooth headphones with noise cancelling in white",
       ["noise cancelling", "wireless bluetooth"], ["white"])],
     ["Active noise cancelling", "40 hours of battery life"]),
    ("B0DEMO0006", "USB C Fast Charging Cable 6ft Braided Nylon", "electronics", "usb c cable",
     "Electronics › Computers & Accessories › Cables › USB Cables", "$9.99",
     {"Length": ["3ft", "6ft"]},
     ["fast charging", "usb c", "high speed"],
     [("i want a braided usb c cable for fast charging, 6ft long", ["fast charging", "usb c"], ["6ft"])],
     ["Fast charging up to 60W", "Durable braided nylon"]),
    ("B0DEMO0007", "Decorative Throw Pillow Covers 18x18 Set of 2 Linen", "furniture", "throw pillow covers",
     "Home & Kitchen › Bedding › Decorative Pillows, Inserts & Covers › Throw Pillow Covers", "$16.99",
     {"Color": ["Beige", "Sage Green"]},
     ["living room", "machine washable", "linen"],
     [("i need linen throw pillow covers for my living room in sage green", ["living room", "linen"], ["sage green"])],
     ["Natural linen blend", "Hidden zipper, machine washable"]),
    ("B0DEMO0008", "Blackout Curtains for Bedroom Thermal Insulated 2 Panels", "furniture", "blackout curtains",
     "Home & Kitchen › Home Décor › Window Treatments › Curtains & Drapes", "$29.99",
     {"Color": ["Grey", "Navy"], "Size": ["52x63", "52x84"]},
     ["thermal insulated", "blackout", "living room"],
     [("find thermal insulated blackout curtains in navy, 52x84",
       ["thermal insulated", "blackout"], ["navy", "52x84"])],
     ["Blocks 99% of light", "Thermal insulated fabric"]),
    ("B0DEMO0009", "Sulfate Free Moisturizing Shampoo for Dry Hair, Argan Oil", "beauty", "shampoo",
     "Beauty & Personal Care › Hair Care › Shampoo & Conditioner › Shampoos", "$12.49",
     {"Size": ["8 fl oz", "16 fl oz"]},
     ["sulfate free", "dry hair", "argan oil"],
     [("i need a sulfate free shampoo for dry hair, 16 fl oz", ["sulfate free", "dry hair"], ["16 fl oz"])],
     ["Sulfate free formula", "With argan oil for dry hair"]),
    ("B0DEMO0010", "Genuine Leather Bifold Wallet for Men RFID Blocking", "fashion", "men's wallets",
     "Clothing, Shoes & Jewelry › Men › Accessories › Wallets, Card Cases & Money Organizers › Wallets", "$24.99",
     {"Color": ["Brown", "Black"]},
     ["genuine leather", "rfid blocking"],
     [("i am looking for a genuine leather wallet with rfid blocking, in brown",
       ["genuine leather", "rfid blocking"], ["brown"])],
     ["Genuine cowhide leather", "RFID blocking lining"]),
    ("B0DEMO0011", "Organic Medium Roast Whole Bean Coffee 2 lb Bag", "grocery", "whole bean coffee",
     "Grocery & Gourmet Food › Beverages › Coffee, Tea & Cocoa › Coffee › Whole Coffee Beans", "$18.75",
     {"Flavor": ["Medium Roast", "Dark Roast"]},
     ["usda organic", "whole bean", "fair trade"],
     [("i want usda organic whole bean coffee, dark roast", ["usda organic", "whole bean"], ["dark roast"])],
     ["USDA organic certified", "Fair trade whole bean"]),
    ("B0DEMO0012", "Men's Short Sleeve Polo Shirt Moisture Wicking Golf Shirt", "fashion", "men's polo shirts",
     "Clothing, Shoes & Jewelry › Men › Clothing › Shirts › Polos", "$19.99",
     {"Color": ["White", "Black"], "Size": ["Medium", "Large"]},
     ["moisture wicking", "short sleeve"],
     [("i want a moisture wicking men's polo shirt, white, medium", ["moisture wicking"], ["white", "medium"])],
     ["Moisture wicking fabric", "Short sleeve golf fit"]),
]


def _raw_product(row: Tuple[Any, ...]) -> Dict[str, Any]:
    asin, title, cat, query, pcat, price, options, _attrs, _goals, bullets = row
    return {
        "asin": asin, "name": title, "category": cat, "query": query, "product_category": pcat,
        "pricing": price, "full_description": f"{title}. " + " ".join(bullets) + ".",
        "small_description": bullets, "images": [""], "average_rating": 4.5,
        "customization_options": {k: [{"value": v, "image": None} for v in vals] for k, vals in options.items()},
        "reviews": [{"title": "Good value", "stars": 5, "review": f"Happy with this {query}."}],
    }


def write_demo_catalog(out_dir: str, suffix: str = "_1000") -> str:
    """Write items_shuffle{suffix}.json, items_ins_v2{suffix}.json and items_human_ins.json."""
    os.makedirs(out_dir, exist_ok=True)
    items = [_raw_product(r) for r in _PRODUCTS]
    attrs, human = {}, {}
    for row in _PRODUCTS:
        asin, title, attributes, goals = row[0], row[1], row[7], row[8]
        attrs[asin] = {"attributes": attributes, "instruction": f"i am looking for {title.lower()}",
                       "instruction_attributes": attributes[:2]}
        human[asin] = [{"asin": asin, "instruction": text, "instruction_attributes": ga, "instruction_options": go}
                       for text, ga, go in goals]
    for name, data in ((f"items_shuffle{suffix}.json", items), (f"items_ins_v2{suffix}.json", attrs),
                       ("items_human_ins.json", human)):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
    return out_dir


if __name__ == "__main__":
    print(write_demo_catalog(sys.argv[1] if len(sys.argv) > 1 else "webshop_demo_data"))

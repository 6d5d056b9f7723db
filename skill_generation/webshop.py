"""Build a WebShop (product categories) skill bank from a memories file.

    python skill_generation/webshop.py --memory_path memories.json --output_path memory_data/webshop/my_skills.json \
        --model gpt-4o [--base_url http://127.0.0.1:8000/v1 | --api_type azure --azure_endpoint ...]

See :mod:`skill_generation.common` for the input format and how the questions are asked.
"""
import os
import sys

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from skill_generation.common import run_bank_cli  # noqa: E402


def main(argv=None) -> int:
    return run_bank_cli("webshop", argv)


if __name__ == "__main__":
    sys.exit(main())

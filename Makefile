# The two commands of the README. Both install into .venv first (once; idempotent).
.PHONY: install quickstart test

install:
	bash scripts/install.sh

quickstart: install
	.venv/bin/python -m skillrl.main_ppo

test: install
	ALFWORLD_DATA=$$(bash scripts/alfworld_data.sh) .venv/bin/python -m pytest

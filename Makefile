# The two commands of the README. Both install into .venv first (once; idempotent).
.PHONY: install quickstart test

install:
	bash scripts/install.sh

quickstart: install
	.venv/bin/python -m skillrl.main_ppo

test: install
	@# without ../shared the ALFWorld tests skip; ALFWORLD_DATA stays unset rather than empty
	d=$$(bash scripts/alfworld_data.sh) && export ALFWORLD_DATA=$$d; .venv/bin/python -m pytest -n auto --dist loadfile --no-loadscope-reorder

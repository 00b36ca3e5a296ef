# Thin aliases for the two scripts of the README's Quick start.
.PHONY: run test lint
run:
	./scripts/run.sh
test:
	./scripts/test.sh
lint:
	.venv/bin/ruff check . && .venv/bin/mypy

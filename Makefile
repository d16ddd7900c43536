# One virtual environment serves `make run`, `make test` and `make bench`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format clean bench lock

install: $(STAMP)

# Everything this machine needs: the local Temporal servers, the simulator's chart, the test
# tools. The production image installs none of them (Dockerfile, requirements.lock).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[local,simulate,dev]'
	touch $(STAMP)

run: install
	$(BIN)/oms run

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -rs  # -rs: says what was skipped, and why

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .data .pytest_cache

bench: install
	$(BIN)/python -m bench.promise_bench

# requirements.lock: the production dependencies (no extras) and the build backend (the image
# builds the OMS without fetching anything unpinned), pinned with their hashes. For every
# platform (--universal) on the image's Python. Run it after any change to the dependencies
# of pyproject.toml: tests/config/test_production_install.py fails until then.
lock: install
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	| $(BIN)/uv pip compile pyproject.toml - --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" --quiet --output-file requirements.lock

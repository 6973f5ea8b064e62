# Every target creates .venv on first use; `make run` and `make test` are all
# a fresh machine needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PROTOS := $(wildcard hafs_api/v1/*.proto) $(wildcard benchmarks/peers/etcdserverpb/*.proto)

.PHONY: run test proto lint format bench chaos soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hactl dev up --foreground

test: $(STAMP)
	$(BIN)/python -m pytest

proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I. --python_out=. --grpc_python_out=. \
		--plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy --mypy_out=. $(PROTOS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(if $(QUICK),--quick,)

# make chaos [HAFS_CHAOS_SEED=N]: ~10 min of faults, seed printed for replay.
chaos: $(STAMP)
	$(BIN)/python -m pytest -m chaos -s -o addopts='-ra --strict-markers' tests

# make soak [HAFS_SOAK_HOURS=H] [HAFS_CHAOS_SEED=N]: 5 NameNodes per group.
soak: $(STAMP)
	$(BIN)/python -m pytest -m soak -s -o addopts='-ra --strict-markers' tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

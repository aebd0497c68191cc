# Two commands: `make run` and `make test`. Both create/update .venv and are quick when nothing changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   ?= demo-data
ROWS   ?= 1000000
PORT   ?= 5006

.PHONY: install run test lint bench bench-100m load demo clean exe desktop screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# What running needs (`make run`), and the development and build extras on top (`make test`).
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev,build]"
	@touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed

$(DEMO)/.tieout-demo: | $(VENV)/.installed-run
	$(BIN)/tieout generate --out $(DEMO) --rows $(ROWS)

demo: $(DEMO)/.tieout-demo

run: $(VENV)/.installed-run demo
	$(BIN)/tieout serve --data $(DEMO) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install lint
	$(BIN)/python -m pytest

desktop: install
	$(BIN)/tieout desktop

# The desktop bundle: dist/tieout/tieout (onedir), built by PyInstaller from build/tieout.spec.
exe: install
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN \
		--distpath dist --workpath pyinstaller-work build/tieout.spec

bench: install demo
	$(BIN)/python -m tests.benchmarks.run
	$(BIN)/python -m tests.benchmarks.domains
	$(BIN)/python -m tests.benchmarks.browser latency --data $(DEMO)
	$(BIN)/python -m tests.benchmarks.engines
	$(BIN)/python -m tests.benchmarks.batch

# The payments domain at 100M transactions (BENCH_BIG_ROWS): cold ingest time, peak RSS and
# stages, database size, filter-change latency, and the plain-DuckDB floor (about 15 GB of disk,
# 15-25 minutes on 2 cores; the data lives in a temporary folder removed at the end).
bench-100m: install
	$(BIN)/python -m tests.benchmarks.big

# 20 simulated sessions changing payments filters for 60 s against two `tieout serve` processes,
# then 300 sessions opened and closed, at 1M transactions (loopback only; about 12 minutes).
load: install demo
	$(BIN)/python -m tests.benchmarks.load --data $(DEMO)

clean:
	rm -rf $(VENV) .tieout-cache dist pyinstaller-work

# Every page and tab at 1440x900 and 1024x768, light and dark, in tests/artifacts/screens/.
screenshots: install demo
	$(BIN)/python -m tests.screens --data $(DEMO)

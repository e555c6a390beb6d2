# The course in two commands: `make lab` and `make test`.
# Both create .venv and install everything on first use (no conda needed).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install lab test test-fast lint bench notebooks html clean exercises grade

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev,site]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install convkit with every dependency (once)

# Kernel websockets with TCP_NODELAY: a widget's answer is not held back 40 ms (convkit/widgets/nodelay.py).
lab: install ## open the course in JupyterLab
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks \
		--ServerApp.kernel_websocket_connection_class=convkit.widgets.nodelay.NoDelayKernelConnection \
		$(if $(filter 0,$(shell id -u)),--allow-root)

# One pytest run, on TEST_WORKERS processes (one per core; `make test TEST_WORKERS=1` runs
# everything in one process). Each group (tests/conftest.py) stays on one worker: the
# browser tests with their one JupyterLab, and the grading tests, which must not run beside
# each other. Each notebook runs once, in tests/test_notebook_runs.py: it must not raise,
# its cells tagged nbval-check-output must print their saved outputs (as nbval compares
# them), and each cell that shows something must show the same when run again after the
# whole notebook (no hidden state). tests/browser/test_notebooks_in_lab.py runs them once
# more in JupyterLab, for what only a browser shows (widgets drawn, no request leaving).
TEST_WORKERS ?= 2

test: install lint ## run every test: lint, library, notebooks, grading, browser
	CONVKIT_OFFLINE=1 $(BIN)/python -m pytest tests lib/convkit -n $(TEST_WORKERS) --dist loadscope --durations=15

test-fast: install ## the library tests, fewer hypothesis examples, no browser
	CONVKIT_OFFLINE=1 HYPOTHESIS_PROFILE=fast $(BIN)/python -m pytest tests -m "not browser and not cluster" \
		-n $(TEST_WORKERS) --dist loadscope

lint: install ## ruff: lint every .py and notebook, and check the .py files are formatted
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install ## time conv2d against torch and its matrix-product floor, the widgets' update speed, and check()
	$(BIN)/python -m convkit.bench
	$(BIN)/python benchmarks/bench_widgets.py
	$(BIN)/python benchmarks/bench_check.py

notebooks: install ## re-run every notebook top to bottom and save its outputs
	CONVKIT_OFFLINE=1 $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.store_widget_state=False notebooks/*.ipynb

html: install ## render the notebooks (saved outputs) and README into site/ (open site/index.html)
	$(BIN)/python tools/build_site.py site

exercises: install ## regenerate exercises/ from solutions/ (answers blanked, outputs cleared)
	$(BIN)/python -m convkit.grade.generate solutions exercises

grade: install ## grade SUBMISSIONS=dir (one folder per student) into grades.csv and feedback/
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder-of-student-folders"; exit 2; }
	$(BIN)/python -I -m convkit.grade "$(SUBMISSIONS)" --out grades.csv --jobs 2

clean: ## remove the virtual environment, caches, the built site and test artifacts
	rm -rf $(VENV) .hypothesis build lib/*.egg-info site artifacts

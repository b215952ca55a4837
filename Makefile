# Two commands set up a fresh machine: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LATEST := .venv-latest
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONUNBUFFERED := 1

.PHONY: demo test install chromium ort-web sync-check nbtest pytest test-latest bench clean-venv lesson-outputs

# The dev environment: the tested versions of constraints.txt, nbdev included.
$(BIN)/.installed: settings.ini setup.py constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	@touch $@
install: $(BIN)/.installed

include tools/lab.mk

demo: install chromium ort-web
	$(BIN)/companion doctor
	$(BIN)/companion lesson2 --out lesson2 --apply_suggested

# Browser tests drive Debian's Chromium; installed here when missing and running as root.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Chromium from Debian packages"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; \
	  else echo "Chromium is missing: run 'sudo apt-get install chromium' for the browser tests"; fi; \
	fi

# The static Space runs onnxruntime-web in the browser: its pinned files come from the npm registry (sha512-checked) into ~/.cache/companion.
ort-web: install
	@$(BIN)/python -c "from companion.static import vendor_ort; print('onnxruntime-web files in', vendor_ort())"

# The library must be what nbdev_export makes of the notebooks, and the notebooks must be clean.
sync-check: install
	@h() { find companion nbs -name '*.py' -o -name '*.ipynb' | grep -v checkpoints | sort | xargs md5sum; }; \
	before="$$(h)"; $(BIN)/nbdev_clean && $(BIN)/nbdev_export; after="$$(h)"; \
	if [ "$$before" != "$$after" ]; then \
	  echo "nbdev_export/nbdev_clean changed files: companion/ or nbs/ were out of step. Commit the result."; \
	  diff <(echo "$$before") <(echo "$$after"); exit 1; fi; echo "notebooks and library in step"
	@$(BIN)/python tools/readme.py --check && echo "README.md is what nbs/index.ipynb makes"

# The lesson notebooks are committed with their outputs (phase lines, reports, plots): after changing one, run this and commit.
LESSONS := nbs/03_lr.ipynb nbs/04b_train.ipynb nbs/05_interpret.ipynb nbs/1[0-5]_*.ipynb nbs/20_lesson2.ipynb
lesson-outputs: install ort-web
	$(BIN)/python tools/outputs.py $(LESSONS)
	@for f in $(LESSONS); do $(BIN)/nbdev_clean --fname $$f; done

# Every check cell runs, `#| slow` ones too (the flag only lets a quick `nbdev_test --path` skip them).
nbtest: install ort-web
	$(BIN)/nbdev_test --n_workers 2 --timing --flags slow

pytest: install chromium ort-web
	$(BIN)/python -m pytest -q tests

test: install chromium sync-check nbtest pytest

# Proof that the ranges in settings.ini work for users: the newest fastai/fastcore the registry serves, no nbdev.
$(LATEST)/.installed: settings.ini setup.py constraints.txt
	@test -x $(LATEST)/bin/python || $(PYTHON) -m venv $(LATEST)
	@grep -E '^(torch|torchvision)==' constraints.txt > $(LATEST)/pins.txt
	$(LATEST)/bin/python -m pip install -q -U -c $(LATEST)/pins.txt -e ".[test]"
	@$(LATEST)/bin/python -c "import fastai, fastcore; print('latest env: fastai', fastai.__version__, 'fastcore', fastcore.__version__)"
	@touch $@
# The ZeroGPU Space test builds its own Python 3.10 venv from the Space's requirements, whatever fastai is here: `make test` ran it.
test-latest: $(LATEST)/.installed chromium ort-web
	$(LATEST)/bin/python -m pytest -q tests --deselect tests/test_wheel.py::test_zerogpu_requirements_install_in_python310

bench: install
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean-venv:
	rm -rf $(VENV) $(LATEST)

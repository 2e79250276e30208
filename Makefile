# EditBench Studio — the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# The CPU build of torch lies in /opt/wheels on our machines; pip looks there first.
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_ENV := DEBUG=1

.PHONY: demo test install browser lint typecheck pytest train fixtures clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq $(FIND_LINKS) -r requirements.txt
	touch $@

install: $(VENV)/.installed

## The demo: embedded SQLite, in-process tasks, served on http://$(HOST):$(PORT)/
demo: install
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py import_benchmark fixtures/editbench-mini
	$(DEMO_ENV) $(PY) manage.py demo --base-url http://$(HOST):$(PORT)
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl-C stops the server)"
	$(DEMO_ENV) $(PY) manage.py runserver --noreload $(HOST):$(PORT)

## The whole suite: lint (ruff, formatting, import-linter layers), types (mypy, strict, with
## django-stubs), tests (DATABASE_URL selects PostgreSQL; SQLite otherwise).
test: install browser lint typecheck pytest

## Browser tests drive Debian's Chromium (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# The django-stubs plugin imports the settings: the debug defaults make them importable here.
typecheck: install
	DEBUG=1 $(VENV)/bin/mypy

pytest: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

## Retrain the two shipped checkpoints: both at once, one core each, 85 minutes of training
## (see their model cards and the recipe sweep in bench/RESULTS.md).
TRAIN_RECIPE := --seed 0 --lr 1.5e-3 --lr-decay cosine --base-resolution 64 --base-channels 16,32,64,96 \
  --sr-every 4 --sr-batch 8 --sr-crop 64 --max-minutes 85 --threads 1
train: install
	$(PY) -m inference.train --name editor-im --policy object $(TRAIN_RECIPE) & \
	$(PY) -m inference.train --name editor-rm --policy random $(TRAIN_RECIPE) & \
	wait
	$(PY) -m inference.evaluate --items 300 --guidance oscillate constant:5

## Rebuild the shipped benchmark from the world generator.
fixtures: install
	$(PY) -m inference.build_benchmark --out fixtures/editbench-mini --items 240 --seed 2023
	$(PY) -m inference.build_layouts --layout editbench --out fixtures/editbench-release-mini
	$(PY) -m inference.build_layouts --layout brushnet --out fixtures/brushnet-editbench-mini

clean:
	rm -rf var/ staticfiles/ test-artifacts/ .pytest_cache .mypy_cache .ruff_cache

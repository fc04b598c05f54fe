# Every target creates what it needs itself: the virtualenv, the Python packages, the front-end assets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Extras installed into the virtualenv; CI adds "parity" (PyTorch) for the reference tests.
EXTRAS ?= test
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
HOST ?= 127.0.0.1
PORT ?= 8000
VENDOR := static/vendor

.PHONY: run test venv assets bench clean

run: venv assets
	HOST=$(HOST) PORT=$(PORT) $(PY) -m app

test: venv assets
	$(PY) -m pytest $(PYTEST_ARGS)

bench: venv
	$(PY) benchmarks/bench_engine.py

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'
	touch $@

assets: $(VENDOR)/.installed

$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/plotly.js-cartesian-dist-min/plotly-cartesian.min.js $(VENDOR)/plotly.min.js
	touch $@

clean:
	rm -rf $(VENV) node_modules $(VENDOR)

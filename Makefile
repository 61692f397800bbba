# Two commands a user needs (README Quickstart): `make lab` and `make test`.
# Both create .venv/ when missing and install pinned versions; a second run skips the install
# unless pyproject.toml or the constraints file changed (the stamp file is older than them).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.sam-rs-installed
CONSTRAINTS := requirements/constraints.txt
# Ultralytics must never pip-install at run time.
export YOLO_AUTOINSTALL := False

.PHONY: lab test lint bench app setup clean-cache

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -e ".[dev,sam2,text,onnx,app,dask]"
	@touch $(STAMP)

setup: $(STAMP)

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $(ROOT_FLAG)

test: $(STAMP)
	$(VENV)/bin/ruff check helpers tests benchmarks
	$(PY) -m pytest --durations=15

bench: $(STAMP)
	$(PY) -m helpers bench

# The web app on http://127.0.0.1:7860 (make app ARGS="--port 8080 --host 0.0.0.0" for a room)
app: $(STAMP)
	$(PY) -m helpers app $(ARGS)

clean-cache:
	rm -rf .cache

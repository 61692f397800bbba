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

# The lessons open as working copies under outputs/lessons/ (git ignores outputs/), so JupyterLab's
# autosave and a learner's edits never touch the tracked notebooks. A copy is made only when missing: a
# learner's edits are never overwritten (delete a copy to get the current lesson again). Results go
# under outputs/ too (SAMRS_OUTPUT_DIR, unless already set). `SAMRS_SMOKE=1 make lab` tries every lesson
# without downloading weights (untrained weights: masks are meaningless).
lab: $(STAMP)
	@mkdir -p outputs/lessons
	@for lesson in notebooks/[0-9][0-9]_*.ipynb; do \
	  copy=outputs/lessons/$$(basename $$lesson); \
	  if [ ! -e $$copy ]; then cp $$lesson $$copy && echo "lab: new working copy $$copy"; \
	  elif [ $$lesson -nt $$copy ]; then echo "lab: $$lesson is newer than your $$copy (kept; delete it to get the new lesson)"; fi; \
	done
	SAMRS_OUTPUT_DIR="$${SAMRS_OUTPUT_DIR:-$(CURDIR)/outputs}" $(VENV)/bin/jupyter lab outputs/lessons $(ROOT_FLAG)

# Two test processes (pytest-xdist, one test file each at a time) with one math thread each: on a 2-core
# machine the suite takes ~10 instead of ~17 minutes, because much of it waits on browsers, kernels and
# subprocesses. `make test TEST_WORKERS=0` runs everything in one process.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(VENV)/bin/ruff check helpers tests benchmarks
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15

bench: $(STAMP)
	$(PY) -m helpers bench

# The web app on http://127.0.0.1:7860 (make app ARGS="--port 8080 --host 0.0.0.0" for a room)
app: $(STAMP)
	$(PY) -m helpers app $(ARGS)

clean-cache:
	rm -rf .cache

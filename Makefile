# The README's commands. Each sets itself up (a virtual environment in .venv with pinned dependencies) first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: example calibrate test package benchmark validate clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

## Grade the example release notes end to end (offline judge unless OPENAI_API_KEY is set): out/results.json
example: $(STAMP)
	mkdir -p out
	$(BIN)/python run.py --samples examples/samples.json --rubric out/rubric.json --output out/results.json

## Calibrate against the illustrative expert grades, with probes: out/calibration/
calibrate: example
	$(BIN)/python calibrate.py --samples examples/samples.json --experts examples/expert_grades.json \
		--results out/results.json --out-dir out/calibration --probes

## The whole test suite (unit, CLI end to end, local-server LLM path, packaging, lint, and the SummEval validation,
## which skips itself when the shared data is absent)
test: $(STAMP)
	$(BIN)/python -m pytest

package: $(STAMP)
	$(BIN)/python scripts/package.py --out dist/submission.zip

benchmark: $(STAMP)
	$(BIN)/python benchmarks/throughput.py

## SummEval validation; DATA=path overrides the script's own default data location
validate: $(STAMP)
	$(BIN)/python validation/summeval.py --probes $(if $(DATA),--data $(DATA))

clean:
	rm -rf out dist .pytest_cache

.PHONY: integration

## Every script's LLM path against a real engine: llama-cpp-python's server, built once from its PyPI source release
## into its own environment (cached under XDG_CACHE_HOME or ~/.cache, in rubric-harness/), serving SmolLM2-135M-Instruct on
## 127.0.0.1; runs tests/integration and always stops the server (scripts/engine.sh)
integration: $(STAMP)
	PY=$(BIN)/python bash scripts/engine.sh test

# The README's commands. Each sets itself up (a virtual environment in .venv with pinned dependencies) first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: example calibrate test browser package benchmark validate clean

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
test: $(STAMP) browser
	if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
		HARNESS_REQUIRE_BROWSER=1 $(BIN)/python -m pytest; else $(BIN)/python -m pytest; fi

## Debian's chromium and chromium-driver for the HTML report's browser tests: installed when missing and we are root
## (apt); once present, the browser tests are required rather than skipped (HARNESS_REQUIRE_BROWSER=1)
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing chromium and chromium-driver (Debian) for the browser tests"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else echo "note: chromium/chromedriver missing and not root: the browser tests will skip"; fi; \
	fi

package: $(STAMP)
	$(BIN)/python scripts/package.py --out dist/submission.zip

benchmark: $(STAMP)
	$(BIN)/python benchmarks/throughput.py

## SummEval validation; DATA=path overrides the script's own default data location
validate: $(STAMP)
	$(BIN)/python validation/summeval.py --probes $(if $(DATA),--data $(DATA))

clean:
	rm -rf out dist .pytest_cache

.PHONY: audit

## Capability audit of the synthetic lm-evaluation-harness example (base vs finetune, replay mitigation): out/audit/
audit: $(STAMP)
	mkdir -p out
	$(BIN)/python audit.py --runs examples/audit/runs.csv --base base --candidate finetune --mitigation replay \
		--output-dir out/audit

.PHONY: refusal validate-refusal

## Refusal labels, tests and rates on the example completions, offline: out/refusal/
refusal: $(STAMP)
	mkdir -p out
	$(BIN)/python refusal.py --completions examples/refusal/completions.jsonl --output-dir out/refusal \
		--judge offline --run-tests --timeout-s 5

## Refusal judges vs XSTest's human labels; DATA=path overrides the script's own default data location
validate-refusal: $(STAMP)
	$(BIN)/python validation/xstest.py $(if $(DATA),--data $(DATA))

.PHONY: coverage
## Coverage of the agreement intervals and error rates of the verdicts at small n (the README's statistics tables)
coverage: $(STAMP)
	$(BIN)/python benchmarks/coverage.py
	$(BIN)/python benchmarks/error_rates.py

.PHONY: winrate
## Head-to-head win rate on the example grant paragraphs, offline end to end: judge, blind sheets, simulated
## editors, tally (out/winrate/)
winrate: $(STAMP)
	rm -rf out/winrate/sheets
	$(BIN)/python winrate.py judge --pairs examples/winrate/pairs.jsonl --output-dir out/winrate/judge --judge offline
	$(BIN)/python winrate.py sheets --pairs examples/winrate/pairs.jsonl --editors 3 --output-dir out/winrate/sheets
	$(BIN)/python examples/winrate/simulate_editors.py --pairs examples/winrate/pairs.jsonl --sheets out/winrate/sheets
	$(BIN)/python winrate.py tally --sheets out/winrate/sheets --output-dir out/winrate/tally \
		--verdicts out/winrate/judge/verdicts.jsonl
	$(BIN)/python winrate.py preference-accuracy --pairs examples/winrate/heldout.jsonl --judge offline \
		--output out/winrate/preference_accuracy.json

.PHONY: integration

## Every script's LLM path against a real engine: llama-cpp-python's server, built once from its PyPI source release
## into its own environment (cached under XDG_CACHE_HOME or ~/.cache, in rubric-harness/), serving SmolLM2-135M-Instruct on
## 127.0.0.1; runs tests/integration and always stops the server (scripts/engine.sh)
integration: $(STAMP)
	PY=$(BIN)/python bash scripts/engine.sh test

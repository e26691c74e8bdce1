# The two commands of the README:
#   make demo   set up, build the stubs, self-check the solutions, grade a sample class
#   make test   set up, then run the whole test suite
#   make check  the fast loop between edits: lint and the tests not marked slow
# Everything is installed into .venv from constraints.txt (torch pinned to the CPU build).

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DEMO := demo-out

.PHONY: setup browser demo test check clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $@

demo: setup
	$(PY) -m grader build
	@echo "== self-checks on the reference solutions (what students run) =="
	cd solutions && ../$(PY) -m pytest -q
	@echo "== grading the reference, the untouched stubs and one student per common mistake =="
	rm -rf $(DEMO)
	$(PY) -m samples.make_class $(DEMO)/class
	$(PY) -m grader batch $(DEMO)/class --out $(DEMO)/results --feedback
	$(PY) -m grader report $(DEMO)/results
	@cat $(DEMO)/results/grades.csv
	@echo "per student: $(DEMO)/results/<student>/results.json and feedback.html"

# The report tests open pages in Debian's Chromium; as root, install it when missing.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "note: without Debian's chromium the browser tests are skipped"; fi; }

test: setup browser
	$(PY) -m grader build --check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

check: setup
	$(PY) -m grader build --check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) $(DEMO)

# ccm_geo: one venv, four targets. Everything a fresh machine needs is installed from here.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= maps/demo
SCALE  ?= 1.0

.PHONY: demo test lint bench browser-deps postgis-deps pdf-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $(STAMP)

demo: $(STAMP) pdf-deps  ## run the whole pipeline on the embedded demo province
	$(BIN)/ccm-geo run data/demo/project.toml --out $(OUT)

test: $(STAMP) browser-deps postgis-deps pdf-deps  ## the whole test suite (browser tests included when Chromium is present)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: $(STAMP)  ## peers and floors side by side; writes benchmarks/results.md
	$(BIN)/python -m benchmarks.run --scale $(SCALE)

# Debian's Chromium for the browser tests; installed only when missing and when we are root.
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "WARNING: could not install chromium: the browser tests will be skipped"; \
	  else \
	    echo "chromium not found and cannot install it: browser tests will be skipped"; \
	  fi; \
	fi

# Debian's PostgreSQL and PostGIS for the database tests (the tests start a throw-away cluster
# on a free loopback port and stop it); installed only when missing and when we are root.
postgis-deps:
	@if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian postgresql and postgis for the database tests"; \
	    (apt-get -o DPkg::Lock::Timeout=900 update -qq \
	      && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
	         postgresql postgresql-postgis >/dev/null) \
	      || echo "WARNING: could not install postgresql/postgis: the PostGIS tests will be skipped"; \
	  else \
	    echo "postgis not found and cannot install it: the PostGIS tests will be skipped"; \
	  fi; \
	fi

# Debian's libraries WeasyPrint prints the request PDFs with (Pango, HarfBuzz), poppler-utils
# (pdftotext, pdffonts, pdfinfo, pdftoppm) that the request tests read the PDFs with, and
# LibreOffice Calc (headless) that recalculates the request workbooks in a test. Installed only
# when missing and when we are root; a failure warns and those tests skip with their reason.
PDF_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils libreoffice-calc-nogui
pdf-deps:
	@if ! command -v pdftotext >/dev/null || ! command -v soffice >/dev/null \
	    || ! ldconfig -p | grep -q libpangoft2-1.0; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's $(PDF_DEBS) for the request PDFs and their tests"; \
	    (apt-get -o DPkg::Lock::Timeout=900 update -qq \
	      && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
	         --no-install-recommends $(PDF_DEBS) >/dev/null) \
	      || echo "WARNING: could not install $(PDF_DEBS): the PDF tests will be skipped"; \
	  else \
	    echo "poppler-utils/LibreOffice/Pango missing and cannot install them: PDF tests will be skipped"; \
	  fi; \
	fi

clean:
	rm -rf $(VENV) maps/demo .pytest_cache

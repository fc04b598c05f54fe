# syntax=docker/dockerfile:1
# The classroom image: docker build -t nn-playground . && docker run -p 8000:8000 nn-playground
# Base images come from build arguments so the image can also be built where Docker Hub is out of
# reach (../shared/tools/container-check passes Debian-built ones).
ARG PYTHON_IMAGE=python:3.12-slim
ARG NODE_IMAGE=node:22-slim

# --- front-end assets, pinned by package-lock.json (the same files `make assets` installs) -------
FROM ${NODE_IMAGE} AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error \
 && mkdir -p vendor \
 && cp node_modules/htmx.org/dist/htmx.min.js vendor/htmx.min.js \
 && cp node_modules/plotly.js-cartesian-dist-min/plotly-cartesian.min.js vendor/plotly.min.js

# --- Python runtime dependencies in a virtualenv (no test or parity extras) ----------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml ./
COPY app/ app/
COPY engine/ engine/
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/python -m pip install --no-cache-dir . \
 && { /opt/venv/bin/python -m pip uninstall --yes pip setuptools wheel >/dev/null 2>&1 || true; }

# --- the image that runs: no compilers, no node, no pip -----------------------------------------
FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin playground
ENV PATH=/opt/venv/bin:$PATH \
    HOST=0.0.0.0 \
    PORT=8000 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/var/lib/nn-playground
# Uploaded data sets (content-addressed): a volume, so their links survive a new container.
RUN mkdir -p /var/lib/nn-playground && chown playground /var/lib/nn-playground
VOLUME /var/lib/nn-playground
WORKDIR /srv/playground
COPY --from=build /opt/venv /opt/venv
# `python -m app` runs from this folder, so app/ here (not the copy in the venv) is imported and
# finds templates/ and static/ beside it.
COPY app/ app/
COPY engine/ engine/
COPY templates/ templates/
COPY static/ static/
COPY --from=assets /build/vendor/ static/vendor/
# Numba compiles the engine's training step once here, into a cache the app may write to, so that
# no worker spends seconds compiling on its first frame (docs/engine.md, "The compiled training step").
ENV NUMBA_CACHE_DIR=/var/cache/numba
RUN mkdir -p "$NUMBA_CACHE_DIR" \
 && python -c "from engine.trainer import compile_training; compile_training()" \
 && chown -R playground "$NUMBA_CACHE_DIR"
USER playground
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)" || exit 1
CMD ["python", "-m", "app"]

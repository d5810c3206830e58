# syntax=docker/dockerfile:1
# One image for every service. The process is chosen by whoever runs it (docker-compose.yml,
# deploy/k8s/), always as `python -m <module>`:
#   crm_api | crm_api.migrate | sync_caldav | sync_google | sync_exchange | notifier
#   | calsync_platform.topics_admin
#
#   docker build -t calsync:local .
#
# The environment is exactly requirements.lock (hash-checked `uv export` output, workspace
# members as editable installs), like `make env` builds .venv locally (docs/adr/0002-lockfile.md).

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a virtualenv at /opt/venv synced to requirements.lock --------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_NO_CACHE=1

# The same pinned uv as scripts/bootstrap.sh.
RUN python -m pip install "uv==0.13.9"

WORKDIR /app
RUN uv venv --python /usr/local/bin/python3 /opt/venv

# Third-party packages first, in their own layer, so a source change does not reinstall them:
# the lockfile minus its editable workspace members (every other line, hashes included, is kept).
COPY requirements.lock ./
RUN grep -v '^-e ' requirements.lock > /tmp/third-party.lock \
    && uv pip sync --python /opt/venv/bin/python /tmp/third-party.lock \
    && rm /tmp/third-party.lock

# Then the workspace itself, and the exact lockfile: this adds the editable members
# (`-e ./libs/...`, `-e ./services/...`) and leaves the venv equal to requirements.lock.
COPY . .
RUN uv pip sync --python /opt/venv/bin/python requirements.lock \
    && /opt/venv/bin/python -m compileall -q libs services

# --- web: the calendar page's one npm package, exactly as web/package-lock.json pins it ----------
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime: no uv, no pip cache, non-root ---------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN groupadd --system --gid 10001 calsync \
    && useradd --system --uid 10001 --gid calsync --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin calsync

# The editable installs point at /app/libs/* and /app/services/*, so the workspace lives at /app.
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# crm_api serves the calendar page at /app/ (web/app) with the calendar bundle at /app/vendor/.
COPY --from=web /web/node_modules /app/web/node_modules
ENV WEB_ROOT=/app/web
WORKDIR /app

# Where compose's Microsoft stand-in keeps its certificate (a named volume takes this owner).
RUN mkdir /certs && chown 10001:10001 /certs

# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 8000

# No default service: say so instead of starting a Python prompt.
CMD ["python", "-c", "raise SystemExit('calsync image: run `python -m <module>`: crm_api, crm_api.migrate, sync_caldav, sync_google, sync_exchange, notifier or calsync_platform.topics_admin')"]

# syntax=docker/dockerfile:1
# One image for every service of the IoT telemetry platform. The command picks the console
# script: `docker run iot-telemetry measurements-ingester`, compose `command: [...]`, Kubernetes
# `command: [...]`. Without one it lists the console scripts it can run.
#
#   docker build -t iot-telemetry:dev .
#
# Stage 1 installs the locked dependencies and the project (as a regular, non-editable wheel)
# into /app/.venv with uv; stage 2 is a clean python:slim with that virtual environment only:
# no uv, no pip cache, no compilers, no sources beyond the installed packages.

ARG PYTHON_VERSION=3.11
ARG DEBIAN_RELEASE=bookworm
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS builder
COPY --from=uv /uv /usr/local/bin/uv
# Bytecode compiled at build time (the root filesystem may be read-only at run time); copies,
# not hard links, out of the cache mount; the image's own interpreter, never a downloaded one.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python${PYTHON_VERSION} \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src

# Dependencies first, from the lock file alone: this layer is rebuilt only when they change.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    uv sync --frozen --no-dev --no-install-project

# Then the project itself, built as a wheel (which carries the migrations' SQL and the web
# UI's static files as package data) and installed into the same environment.
COPY pyproject.toml uv.lock README.md ./
COPY libs ./libs
COPY services ./services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

FROM python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE} AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="iot-telemetry" \
      org.opencontainers.image.description="IoT telemetry platform services: sensors -> RabbitMQ -> TimescaleDB" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:${PYTHON_VERSION}-slim-${DEBIAN_RELEASE}"

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --system --gid 10001 iot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin iot

# Owned by root: the service user can read and run the code but never change it.
COPY --from=builder /app/.venv /app/.venv

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    IOT_LOG_FORMAT=json
WORKDIR /app
USER 10001:10001

# Ports the services listen on (each uses its own): api-gateway HTTP, gRPC and broker auth;
# the other services' health and metrics.
EXPOSE 8080 50051 8081 9101 9102 9103 9104 9105

# No ENTRYPOINT: the command is the console script. Every service handles SIGTERM itself;
# compose (`init: true`) and Kubernetes reap any stray child processes.
CMD ["python", "-c", "from importlib.metadata import entry_points; print('iot-telemetry: run one of:', ' '.join(sorted(e.name for e in entry_points(group='console_scripts') if e.dist and e.dist.name == 'iot-telemetry')))"]

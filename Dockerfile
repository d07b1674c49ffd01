# rigbridge container image.
#   docker build -t rigbridge .
#   docker run --rm -p 20777:20777/udp -v "$PWD/config/rigbridge.yaml:/config/rigbridge.yaml:ro" rigbridge
# compose.yaml builds and runs it with config/rigbridge.compose.yaml.

# Same Python minor version as the test suite runs on (requires-python >= 3.11).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Only what the package build needs (see .dockerignore): a change in tests or docs does not rebuild the layer.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bridge ./bridge
RUN pip install --no-cache-dir . \
    && rm -rf /src

# Unprivileged user with a fixed uid, so file ownership on the host (e.g. the MQTT password secret) can be set for it.
RUN groupadd --system --gid 10001 rigbridge \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin rigbridge

WORKDIR /
USER 10001:10001

# Game telemetry in, Prometheus metrics out (metrics.port; set metrics.bind to 0.0.0.0 in a container).
EXPOSE 20777/udp 9464

# Healthy while the metrics endpoint answers (python is in the image, so no curl or wget is needed). It assumes the
# default metrics.port 9464 over plain HTTP; with metrics disabled, another port or metrics TLS, override or disable
# it (compose: healthcheck: {disable: true}).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/metrics', timeout=4).read(1)"]

ENTRYPOINT ["rigbridge"]
CMD ["run", "-c", "/config/rigbridge.yaml"]

# slaflow image: `slaflow setup`, `slaflow worker` and `slaflow api` (default) run from it; see
# docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system slaflow \
    && useradd --system --gid slaflow --home-dir /app --no-create-home slaflow

WORKDIR /app

# Only what the setuptools build needs ([tool.setuptools] in pyproject.toml).
COPY pyproject.toml README.md ./
COPY sla ./sla
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY config ./config
COPY store ./store
COPY worker.py cli.py cluster.py settings.py telemetry.py ./

# The `postgres` extra brings the PostgreSQL driver (psycopg) for SLAFLOW_DATABASE_URL.
# /data is created here, owned by the runtime user, so a named volume mounted on it
# (SLAFLOW_DATA_DIR=/data in docker-compose.yml) starts out writable by that user.
RUN pip install --no-cache-dir '.[postgres]' \
    && rm -rf build *.egg-info \
    && mkdir -p /data \
    && chown slaflow:slaflow /data

ENV SLAFLOW_DATA_DIR=/data

USER slaflow

EXPOSE 8000

CMD ["slaflow", "api"]

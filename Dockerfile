# slaflow image: `slaflow setup`, `slaflow worker` and `slaflow api` (default) run from it; see
# docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN groupadd --system slaflow \
    && useradd --system --gid slaflow --home-dir /app --no-create-home slaflow

WORKDIR /app

# The locked dependencies first, in their own layer: a source change does not reinstall them.
# requirements/run.txt is what `make run` installs too: every version pinned and hash-checked
# (pip and setuptools included), with the postgres and s3 extras' packages.
COPY requirements/run.txt ./requirements/run.txt
RUN pip install --no-cache-dir --require-hashes -r requirements/run.txt

# Only what the setuptools build needs ([tool.setuptools] in pyproject.toml).
COPY pyproject.toml README.md ./
COPY sla ./sla
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY config ./config
COPY store ./store
COPY backfill ./backfill
COPY worker.py worker_probes.py cli.py cluster.py settings.py telemetry.py tracing.py ./

# slaflow itself, with nothing beyond the lock: --no-deps, built by the locked setuptools
# (--no-build-isolation). The `postgres` extra (psycopg, for SLAFLOW_DATABASE_URL) is named for
# the record; its packages, and the `s3` extra's (boto3, for SLAFLOW_ARCHIVE_URL), came from the
# lock above. /data and /keys are created here, owned by the runtime user, so named volumes
# mounted on them (SLAFLOW_DATA_DIR=/data, the API keys in /keys, docker-compose.yml) start out
# writable by that user; /keys is that user's alone. /prometheus-key: the one key compose's
# Prometheus reads (docker-compose.yml, slaflow-prometheus-key).
RUN pip install --no-cache-dir --no-deps --no-build-isolation '.[postgres]' \
    && pip check \
    && rm -rf build *.egg-info \
    && mkdir -p /data /keys /prometheus-key \
    && chown slaflow:slaflow /data /keys /prometheus-key \
    && chmod 700 /keys

ENV SLAFLOW_DATA_DIR=/data

USER slaflow

EXPOSE 8000

CMD ["slaflow", "api"]

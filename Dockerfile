# One image for every service of the product: the one-shot init, Airflow (api-server, scheduler,
# dag-processor, triggerer) and the intake service. Exact pins come from requirements.lock.
# Health checks (docker-compose.yml) use only what this image has: python, airflow, vte (no curl).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 VTE_HOME=/var/lib/vte
WORKDIR /opt/vte
COPY requirements.lock pyproject.toml ./
RUN pip install -r requirements.lock
COPY plugins ./plugins
COPY dags ./dags
COPY dbt_project ./dbt_project
COPY expectations ./expectations
# A fixed uid, so that the TLS keys given as compose secrets can be owned by it on the host
# (docs/deployment.md: chown 10001 deploy/tls/*.key).
RUN pip install --no-deps -e . \
    && useradd --system --uid 10001 --home /var/lib/vte vte \
    && mkdir -p /var/lib/vte && chown vte /var/lib/vte
USER vte

# One image for every service of the product: Airflow (api-server, scheduler, dag-processor, triggerer)
# and the intake service. Exact pins come from requirements.lock.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 VTE_HOME=/var/lib/vte
WORKDIR /opt/vte
COPY requirements.lock pyproject.toml ./
RUN pip install -r requirements.lock
COPY plugins ./plugins
COPY dags ./dags
COPY dbt_project ./dbt_project
COPY expectations ./expectations
RUN pip install --no-deps -e . && useradd --system --home /var/lib/vte vte && mkdir -p /var/lib/vte && chown vte /var/lib/vte
USER vte

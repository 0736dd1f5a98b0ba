"""The PostgreSQL role each component connects as (created by migration 008_component_roles.sql).

No component connects as the migrator (the superuser that ``vte warehouse start`` uses to apply the
migrations) or as ``vte_owner``, the owner of the audit tables, which cannot log in. On an external server
each role's password comes from its own variable, ``VTE_DB_PASSWORD_<COMPONENT>`` (absent: libpq's
password file); the embedded server trusts its socket, so there it needs none.
"""

from __future__ import annotations

import os

INTAKE = "vte_intake"        # authenticates hospitals: reads the accounts
LOADER = "vte_loader"        # lands submissions and the intake's request log in raw and ops
TRANSFORM = "vte_transform"  # dbt, acting as vte_builder, which owns what dbt builds
PUBLISHER = "vte_publisher"  # the gate, the swap, the publication record, the alerts, the feedback
EXTRACTS = "vte_extracts"    # periodic extracts and `vte diff`: every region's marts and history
ADMIN = "vte_admin"          # operators' commands: the registry, analysts' logins, load-regions
AIRFLOW = "vte_airflow"      # owns Airflow's metadata database, nothing in the warehouse
MONITOR = "vte_monitor"      # finds missing and late reports and indicators below target; delivers alerts
CONSOLE = "vte_console"      # the data centre console: review and lock, alerts, monitoring, its users

COMPONENTS = (INTAKE, LOADER, TRANSFORM, PUBLISHER, EXTRACTS, ADMIN, AIRFLOW, MONITOR, CONSOLE)
# What dbt's sessions switch to (profiles.yml `role`), so that the publisher, its other member, may swap
# the schemas dbt built.
BUILDER = "vte_builder"
ANALYST = "vte_analyst"
OWNER = "vte_owner"

MIGRATOR = "migrator"


def password_variable(role: str) -> str:
    """``vte_loader`` -> ``VTE_DB_PASSWORD_LOADER``; ``migrator`` -> ``VTE_DB_PASSWORD_MIGRATOR``."""
    return "VTE_DB_PASSWORD_" + role.removeprefix("vte_").upper()


def password(role: str) -> str | None:
    return os.environ.get(password_variable(role)) or None

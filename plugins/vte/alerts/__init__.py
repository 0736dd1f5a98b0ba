"""Alerts that reach people: one model for every kind of problem, its detection, and its delivery.

- ``model``: the alert record — open or bump by subject, acknowledge, resolve, list (alerts.alerts);
- ``detect``: the rules (missing, late and consecutive missing reports, indicators below target), run by
  vte_monitor, resolving automatically what is no longer true;
- ``bridge``: the gate's and the publish step's rows of ops.alerts turned into alerts;
- ``recipients``: who is told, for which region and from which level;
- ``deliver``: who gets which alert now (the once-a-day rule, retries), and the record of each attempt;
- ``channels``: e-mail (smtplib) and chat-robot webhooks (httpx);
- ``callbacks``: Airflow's failure callback, which opens a dag_failed alert;
- ``steps``: what the vte_alerts DAG and `vte alerts run` call.

docs/alerts.md describes the kinds, levels, escalation and settings.
"""

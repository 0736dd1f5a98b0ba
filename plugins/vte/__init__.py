"""VTE quality-control regional data warehouse: the package shared by the DAGs, the intake service and the CLI."""

"""What the console's pages read, one module per subject; every query is scoped by access.regions_inside."""

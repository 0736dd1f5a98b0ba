"""Review and lock: a month's data accepted county by county, then by city and province, then locked."""

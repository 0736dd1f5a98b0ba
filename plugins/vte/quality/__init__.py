"""What the data centre states about an institution's data beyond the fixed rules: the departments it is expected
to report (roster) and the outliers against its own history confirmed as real (outliers)."""

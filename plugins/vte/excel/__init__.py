"""The Excel channel (standard §7.2.2): the template, the workbook parser and the upload routes."""

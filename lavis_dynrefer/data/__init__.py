"""Data side of the plugin: region annotation files (data-and-metrics.md section 1)."""

"""Measuring MaxSight against real data: evaluation (accuracy against labels) and benchmarks
(speed, ratios against a reference measured in the same run). Each module computes a result
dict and renders a table; the commands in maxsight_app/commands print them and write JSON."""

"""Reports: result files (summary.json, invocations.csv, report.md); tables, plots and the cost model
come with the reports issue."""

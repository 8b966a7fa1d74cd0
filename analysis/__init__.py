"""Pure computations over arrays and tables: quality flags, duplicates, label issues, EDA,
metrics and reports. No network, no Label Studio, no global state; depends on ``winnow`` only."""

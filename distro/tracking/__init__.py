"""The runner's tracking table: its records as plain data, and the calls that read and write it."""

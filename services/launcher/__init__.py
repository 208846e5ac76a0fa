"""The local launcher: starts the services of README.md ("What runs where") as processes on one
machine."""

"""The local launcher: starts the services of DESIGN §2 as processes on one machine."""

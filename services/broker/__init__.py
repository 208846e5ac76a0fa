"""The Celery wire shared by the API (it sends jobs, pings workers, reads queue depths) and the
workers (they run jobs): owned by neither, so the API never imports the worker nor the reverse."""

"""A Django app for the tests whose jobs.py registers processors: runworker
must find them by autodiscovery, as it finds admin.py."""

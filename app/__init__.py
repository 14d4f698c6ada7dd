"""Rankwise web application: labeling, projects, exports and the job queue."""

__version__ = "0.1.0"

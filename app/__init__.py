"""Rankwise web application: labeling, projects, exports and the job queue."""

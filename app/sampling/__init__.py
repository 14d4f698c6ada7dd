"""Sampling: model versions write completions — K per prompt into a project's queue,
one reply for the registry's test button, a draft for a demonstration task.

Its own domain rather than part of app/registry: the registry is the catalogue
of model versions (what exists, where, who may use it) and is read by the
projects and labeling pages; generation needs a project's prompts and work items
(app/projects) and runs in a job's child process with torch. Keeping them apart
lets the catalogue stay small and torch-free, and gives evaluations (which sample
two models) one place to generate from.
"""

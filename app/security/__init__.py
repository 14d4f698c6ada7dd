"""Passwords, sessions, API tokens, CSRF, rate limits and protective middleware."""

"""Orchestration: plain steps (steps.py) and the Prefect flows that run them."""

"""Backfill: `slaflow import FILE.csv` opens a help desk's existing tickets at their own times.

Everything goes through the HTTP API, as any client's requests would (so it works against a
remote deployment and its keys): `rows.py` reads and checks the file, `importer.py` sends each
row's steps (open, assign, respond, resolve) with their times, idempotently, a bounded number
at a time, and `progress.py` draws the progress line. README: "Importing tickets".
"""

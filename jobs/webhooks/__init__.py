"""Webhooks: signing (Standard Webhooks), which URLs may receive them, and delivery with retries.

The worker-side trigger (a job's `running` / `completed` events on their own Celery queue) is
built on these; nothing here imports Celery or the worker.
"""

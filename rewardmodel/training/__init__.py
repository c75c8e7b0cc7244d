"""Django-free training code: dataset builders, trainers, rule-based rewards.

Nothing in this package may import Django; heavy imports (torch, transformers, trl) stay inside
functions so that importing a module here is cheap. Callable from a management command, a Celery
worker on a GPU host, a plain script, or a test.
"""

"""The Django project (settings, URLs, the Celery app) and what both apps share below them:
pairwise.errors (the one domain error) and pairwise.files (atomic folders, bounded JSONL, preference
pairs on disk), which import no Django, so the trainers in rewardmodel.training use them too.

Nothing is imported here: a trainer that imports pairwise.files must not start Celery. The Celery
app (pairwise.celery) is made when Django starts (rewardmodel.apps) and found by `celery -A
pairwise` as pairwise.celery.
"""

"""Everything after a judgment, one package per part of the loop (the app label stays
"rewardmodel", so no table moved):

- jobs/        one lifecycle for every long job (lifecycle), one way to run one (execute), the kinds
               of job (kinds) and their one status and cancel view (views), live workers (workers)
- registry/    model artifacts and their lineage; the dataset snapshots runs train on: preference
               pairs, demonstrations, prompts; registering a model from the web (registration)
- runs/        training runs: one description per kind in kinds/ (reward, sft, ppo, grpo, dpo), the
               checks and services every kind shares, and the forms, commands and reproduce lines
               made from the kinds
- generation/  responses sampled from a registered model, as jobs
- evaluation/  policies measured by rules and by a reward model, the arena, simulated labelers,
               the cost ledger, the scoring API
- report/      the comparison report: built, typed (data), drawn (html), shown (views)
- demo/        the demo loop that scripts/demo.sh queues
- console/     the manager's console: a project's steps, each with its button or its reason
- training/    plain Python on torch, transformers, TRL and accelerate, no Django: the trainers,
               sampling, scoring, rule rewards; run from a worker, a command or a shell

The arrows go one way (tests/test_layout.py): jobs and registry below runs and generation, those
below evaluation, report, demo and console; training below all of them.
"""

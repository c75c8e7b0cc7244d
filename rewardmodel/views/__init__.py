"""Manager pages, one module per kind of page: runs (training runs: list, start, detail), policy
(starting SFT, PPO and GRPO runs), generation (generation jobs), data_jobs (imports, exports and
recomputes run by a worker), reports (comparison reports), demo (the demo loop's status)."""

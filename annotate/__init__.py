"""The human side: projects, prompts, responses, comparisons, assignments, judgments; the ranking
screen, the API, the admin, imports and exports, labeler quality and the leaderboard.

annotate sits below rewardmodel: rewardmodel reads judgments and writes responses; annotate does not
import rewardmodel's modules, with one documented seam (tests/test_layout.py holds it to it):

- rewardmodel.models: the rows annotate's pages start or show (DataJob for the admin's imports,
  exports and quality recomputes; ModelArtifact, which a Response may name);
- rewardmodel.jobs (lifecycle, execute, workers): the job machinery those data jobs run on, in
  annotate.data_jobs, and whether a live worker serves a queued job's queue (the home and quality
  pages say when none does); rewardmodel.jobs.kinds names annotate's work by its dotted path.

What both apps share (pairwise.errors, pairwise.files, pairwise.progress) lives below both, in pairwise.
"""

"""Labeler quality and leaderboards.

Modules, each one concern:
- data: pulls the columns a report needs into numpy arrays with one query;
- agreement: raw pairwise agreement, Krippendorff's alpha, leave-one-out majority agreement;
- gold: gold accuracy with Wilson intervals, and marking comparisons gold;
- bias: position bias, same-choice streaks, too-fast judgments;
- exclusion: excluding and reinstating labelers;
- report: the whole quality report, stored as a QualitySnapshot;
- leaderboard: Bradley-Terry strengths of response sources with bootstrap intervals;
- svg: small server-side SVG charts for the pages.

Outcomes are order-independent ("canonical"): which STORED response won, or tie / both bad.
Codes 0..3 stand for "response_a", "response_b", "tie", "both_bad" (OUTCOMES below).
"""

from __future__ import annotations

OUTCOMES: tuple[str, ...] = ("response_a", "response_b", "tie", "both_bad")
SHOWN: tuple[str, ...] = ("A", "B", "tie", "both_bad")

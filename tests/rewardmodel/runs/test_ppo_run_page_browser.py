"""A PPO run's page in real Chromium, from fabricated metrics rows: its charts, the sampled
responses, and the reward-hacking warning as the live check raises it."""

from __future__ import annotations

import pytest
from django.utils import timezone

from rewardmodel.models import TrainingRun
from tests.browser_support import log_in
from tests.rewardmodel.support.pages import add_metrics, fake_model, make_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PPO_TITLES = [
    "Reward-model score",
    "KL to the start",
    "Non-score reward and total RLHF reward",
    "Entropy",
    "Response length (tokens)",
    "Losses",
    "Clip fraction and approx KL",
    "Length–score correlation (held out)",
]


def update(step: int) -> dict[str, float]:
    """One PPO update's metrics, as training/ppo.py names them."""
    return {
        "score": 0.1 * step,
        "kl": 0.05 * step,
        "non_score_reward": -0.01 * step,
        "rlhf_reward": 0.09 * step,
        "entropy": 2.0 - 0.1 * step,
        "response_length": 20.0 + step,
        "eos_fraction": 0.9,
        "policy_loss": -0.02,
        "value_loss": 0.3 / step,
        "clip_fraction": 0.1,
        "approx_kl": 0.01 * step,
    }


def heldout(step: int, *, flagged: bool) -> dict[str, float]:
    return {
        "heldout/score": 0.2 + 0.3 * step,
        "heldout/length": 20.0 + 4 * step,
        "heldout/kl": 0.4 * step,
        "heldout/length_score_corr": 0.2 + 0.15 * step,
        "hacking/flagged": float(flagged),
    }


@pytest.fixture
def page(context, server, manager):
    context.set_default_timeout(15_000)
    log_in(context, server, manager)
    return context.new_page()


def test_a_ppo_run_page_draws_its_charts_samples_and_the_hacking_warning(page, server, project):
    run = make_run(project, fake_model("policy-start"), kind=TrainingRun.Kind.PPO)
    add_metrics(
        run,
        [
            (0, heldout(0, flagged=False)),
            *[(step, update(step)) for step in (1, 2, 3, 4)],
            (4, {"samples": ["Q: Say hi.\nHi there, thanks!\n[score=0.812]", "<b>not bold</b>"]}),
            (4, heldout(4, flagged=False)),
            (4, {"heldout/samples": ["Q: Say bye.\nBye, thanks thanks thanks"]}),
        ],
    )
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/runs/{run.pk}/")

    assert page.locator("svg.rm-chart .rm-chart-title").all_text_contents() == PPO_TITLES
    for key in ("score", "heldout/score", "kl", "heldout/kl", "heldout/length_score_corr", "approx_kl"):
        assert page.locator(f'svg.rm-chart polyline[data-key="{key}"]').count() == 1, key
    assert len(page.get_attribute('polyline[data-key="score"]', "points").split()) == 4
    assert len(page.get_attribute('polyline[data-key="heldout/score"]', "points").split()) == 2
    assert page.locator("#samples pre").all_text_contents()[1] == "<b>not bold</b>"
    assert page.locator("#samples b").count() == 0
    assert page.locator("#heldout-samples pre").all_text_contents() == [
        "Q: Say bye.\nBye, thanks thanks thanks"
    ]
    assert page.is_hidden("#hacking-warning")

    # The next held-out check flags the run: the page shows it at its next poll.
    with server.db():
        add_metrics(run, [(5, update(5)), (8, heldout(8, flagged=True))])
        TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    page.wait_for_selector("#hacking-warning:not([hidden])")
    text = page.text_content("#hacking-warning")
    assert "Possible reward hacking (live check)" in text
    assert "at step 8: held-out RM score +2.600, mean length 52.0 tokens" in text
    assert "length–score correlation 1.40, KL to the start 3.20" in text
    assert page.locator('polyline[data-key="heldout/score"]').get_attribute("points").count(",") == 3
    assert errors == []

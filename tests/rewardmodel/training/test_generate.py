"""rewardmodel.training.generate on a tiny random model with the real SmolLM2 tokenizer (no Django)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from pairwise.progress import Cancelled
from rewardmodel.training.generate import GenerationError, load_policy, sample_responses, sample_seed

pytestmark = pytest.mark.ml

# Prompts of different lengths, so batches need padding.
PROMPTS = [
    [{"role": "user", "content": "Hi"}],
    [{"role": "user", "content": "Name three rivers of Europe and say which one is the longest, please."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 2?"}],
    [{"role": "user", "content": "Write a haiku about autumn."}],
    [{"role": "user", "content": "Why is the sky blue?"}],
]


@pytest.fixture(scope="module")
def loaded(tiny_policy_dir):
    return load_policy(tiny_policy_dir, device="cpu")


def _texts(summary):
    return {(s.prompt_index, s.sample_index): s.text for s in summary.samples}


def test_it_samples_per_prompt_with_left_padding(tiny_policy_dir, loaded):
    model, tokenizer = loaded
    assert tokenizer.padding_side == "left"
    summary = sample_responses(
        tiny_policy_dir, PROMPTS, per_prompt=2, max_new_tokens=6, batch_size=4, model_and_tokenizer=loaded
    )
    assert sorted((s.prompt_index, s.sample_index) for s in summary.samples) == [
        (i, k) for i in range(len(PROMPTS)) for k in range(2)
    ]
    assert all(1 <= s.new_tokens <= 6 for s in summary.samples)
    assert summary.new_tokens == sum(s.new_tokens for s in summary.samples)
    assert {s.seed for s in summary.samples} == {
        sample_seed(0, PROMPTS[s.prompt_index], s.sample_index) for s in summary.samples
    }
    # Random weights make random text: the two samples of a prompt differ.
    texts = _texts(summary)
    assert all(texts[(i, 0)] != texts[(i, 1)] for i in range(len(PROMPTS)))


def test_it_gives_each_sample_the_same_text_whatever_the_batch_layout(tiny_policy_dir, loaded):
    kwargs = dict(per_prompt=2, max_new_tokens=8, seed=7, model_and_tokenizer=loaded)
    in_threes = _texts(sample_responses(tiny_policy_dir, PROMPTS, batch_size=3, **kwargs))
    all_at_once = _texts(sample_responses(tiny_policy_dir, PROMPTS, batch_size=10, **kwargs))
    reversed_order = sample_responses(tiny_policy_dir, PROMPTS[::-1], batch_size=4, **kwargs)
    assert all_at_once == in_threes
    n = len(PROMPTS)
    assert {(n - 1 - i, k): t for (i, k), t in _texts(reversed_order).items()} == in_threes
    other_seed = _texts(sample_responses(tiny_policy_dir, PROMPTS, batch_size=10, **{**kwargs, "seed": 8}))
    assert all(other_seed[key] != text for key, text in in_threes.items())


def test_it_skips_samples_and_reports_each_batch(tiny_policy_dir, loaded):
    batches = []
    summary = sample_responses(
        tiny_policy_dir,
        PROMPTS,
        per_prompt=2,
        max_new_tokens=4,
        batch_size=3,
        skip=lambda i, k: i < 2,
        on_batch=batches.append,
        model_and_tokenizer=loaded,
    )
    assert summary.rows_total == 6
    assert [b.rows_done for b in batches] == [3, 6]
    assert all(s.prompt_index >= 2 for s in summary.samples)


def test_it_stops_between_batches_when_asked(tiny_policy_dir, loaded):
    batches = []
    with pytest.raises(Cancelled):
        sample_responses(
            tiny_policy_dir,
            PROMPTS,
            per_prompt=2,
            max_new_tokens=4,
            batch_size=4,
            on_batch=batches.append,
            should_stop=lambda: len(batches) >= 1,
            model_and_tokenizer=loaded,
        )
    assert len(batches) == 1 and len(batches[0].samples) == 4


def test_it_decodes_greedily_at_temperature_zero(tiny_policy_dir, loaded):
    a = sample_responses(
        tiny_policy_dir, PROMPTS, temperature=0, max_new_tokens=5, model_and_tokenizer=loaded
    )
    b = sample_responses(
        tiny_policy_dir,
        PROMPTS,
        temperature=0,
        max_new_tokens=5,
        seed=99,
        batch_size=2,
        model_and_tokenizer=loaded,
    )
    assert _texts(a) == _texts(b)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": 0, "per_prompt": 2}, "greedy"),
        ({"top_p": 0}, "top_p"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_it_rejects_bad_parameters_before_loading(tmp_path, kwargs, message):
    with pytest.raises(GenerationError, match=message):
        sample_responses(tmp_path, PROMPTS, **kwargs)


def test_it_rejects_malformed_prompts_with_their_index(tmp_path):
    with pytest.raises(GenerationError, match="prompt 1: message 0 has role 'robot'"):
        sample_responses(tmp_path, [PROMPTS[0], [{"role": "robot", "content": "x"}]])
    with pytest.raises(GenerationError, match="prompt 0: message 0 has no text content"):
        sample_responses(tmp_path, [[{"role": "user", "content": None}]])


def test_it_names_a_folder_that_is_not_a_model(tmp_path):
    with pytest.raises(GenerationError, match="no config.json"):
        sample_responses(tmp_path, PROMPTS)


def test_it_turns_a_real_out_of_memory_into_advice_on_batch_size(tiny_policy_dir):
    """A fresh interpreter caps its address space just above what the model needs, then asks for
    a batch whose logits alone need more: torch's real allocation failure must come back as
    advice to use a smaller batch."""
    script = textwrap.dedent(
        f"""
        import resource
        from rewardmodel.training.generate import GenerationError, sample_responses, load_policy
        loaded = load_policy({str(tiny_policy_dir)!r}, device="cpu")
        prompts = [[{{"role": "user", "content": "Hello"}}]]
        sample_responses("", prompts, max_new_tokens=2, model_and_tokenizer=loaded)  # warm up threads
        vm = int([l for l in open("/proc/self/status") if l.startswith("VmSize")][0].split()[1]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + (256 << 20), resource.RLIM_INFINITY))
        try:
            # 4096 rows x 49k vocabulary: ~800 MB of float32 logits per step, beyond the cap.
            sample_responses("", prompts, per_prompt=4096, max_new_tokens=2, batch_size=4096,
                               model_and_tokenizer=loaded)
        except GenerationError as exc:
            print("ERROR:", exc)
        else:
            print("NO ERROR")
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env
    )
    assert "ERROR: out of memory generating 4096 rows" in result.stdout, result.stdout + result.stderr[-2000:]
    assert "--batch-size 2048" in result.stdout


def test_its_sampler_draws_from_the_tempered_nucleus_distribution():
    import torch

    from rewardmodel.training.generate import _seeded_sampler

    vocab, draws, temperature, top_p = 40, 10_000, 0.7, 0.9
    logits = torch.randn(1, vocab, generator=torch.Generator().manual_seed(1)) * 0.8
    uniforms = torch.rand(1, draws, generator=torch.Generator().manual_seed(2))
    sampler = _seeded_sampler(uniforms, 0, temperature, top_p)
    counts = torch.zeros(vocab)
    for step in range(draws):
        scores = sampler(torch.zeros(1, step, dtype=torch.long), logits.clone())
        assert (scores == 0).sum() == 1  # one-hot: greedy generate takes exactly the drawn token
        counts[scores.argmax()] += 1
    probs, order = torch.softmax(logits[0] / temperature, -1).sort(descending=True)
    nucleus = (probs.cumsum(-1) - probs) < top_p
    expected = torch.zeros(vocab)
    expected[order[nucleus]] = probs[nucleus] / probs[nucleus].sum()
    assert counts[order[~nucleus]].sum() == 0  # nothing outside the nucleus
    assert 0.5 * (counts / draws - expected).abs().sum() < 0.04  # total variation

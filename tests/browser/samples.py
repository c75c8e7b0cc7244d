"""Realistic pairs for the browser tests and the screenshot: Markdown, code, lists, conversations."""

from __future__ import annotations

from annotate.models import Comparison, Project, Prompt, Response, content_hash

GUIDELINES = """\
**Pick the response you would rather receive.** Judge helpfulness first, then honesty, then harm.

1. *Correct beats confident.* A wrong answer is worse than an honest "I don't know".
2. *Follow the instructions*: length, format and language the user asked for.
3. *Both bad* when neither answers the question or both are unsafe; *tie* when they are equally good.

Strength: **slightly** (a small edge), **clearly** (you would notice), **much** (one is unusable).
"""

PAIRS = [
    (
        [{"role": "user", "content": "How do I reverse a list in Python without modifying the original?"}],
        "Use slicing, which returns a new list:\n\n```python\nitems = [1, 2, 3]\nreversed_items = items[::-1]\n"
        "print(reversed_items)  # [3, 2, 1]\nprint(items)           # [1, 2, 3]\n```\n\n"
        "Alternatively, `list(reversed(items))` does the same and reads well.",
        "You can call `items.reverse()`:\n\n```python\nitems = [1, 2, 3]\nitems.reverse()\n```\n\n"
        "This reverses the list **in place**, so the original order is gone.",
    ),
    (
        [
            {"role": "system", "content": "You are a concise travel assistant."},
            {"role": "user", "content": "I have one day in Lisbon. What should I see?"},
            {"role": "assistant", "content": "Do you prefer museums, food or walking?"},
            {"role": "user", "content": "Walking, and I like viewpoints."},
        ],
        "A walking day built around *miradouros*:\n\n1. **Alfama** in the morning: lanes, the cathedral and "
        "Miradouro de Santa Luzia.\n2. **Castelo de São Jorge** for the widest view.\n3. Tram 28 or a walk down to "
        "**Baixa** and Praça do Comércio.\n4. Sunset at **Miradouro da Senhora do Monte**.\n\nWear good shoes: "
        "the hills are steep and the stones slippery.",
        "| Time | Place |\n|---|---|\n| 9:00 | Belém Tower |\n| 11:00 | Jerónimos Monastery |\n"
        "| 14:00 | Gulbenkian Museum |\n| 18:00 | Time Out Market |\n\nEnjoy your trip!",
    ),
    (
        [{"role": "user", "content": "Explain what a reward model is in RLHF, in two sentences."}],
        "A reward model is a network trained on human preference pairs to score how much people would like a "
        "response. During RLHF the policy is optimized (e.g. with PPO) to produce responses the reward model "
        "scores highly, usually with a KL penalty that keeps it close to the original model.",
        "It is a model that gives rewards.\n\nIt is used in reinforcement learning from human feedback to train "
        "other models, which is a technique used for large language models like ChatGPT, and it has many uses "
        "in practice across the industry.",
    ),
]


def make_sample_comparisons(project: Project, n: int) -> list[Comparison]:
    """n comparisons cycling through PAIRS (each prompt made unique)."""
    out = []
    for i in range(n):
        messages, a, b = PAIRS[i % len(PAIRS)]
        messages = [dict(m) for m in messages]
        if i >= len(PAIRS):
            messages[-1]["content"] += f" (variant {i})"
        prompt = Prompt.objects.create(
            project=project, messages=messages, content_hash=content_hash(messages)
        )
        ra = Response.objects.create(
            prompt=prompt, text=a, model_name="policy-a", content_hash=content_hash(a)
        )
        rb = Response.objects.create(
            prompt=prompt, text=b, model_name="policy-b", content_hash=content_hash(b)
        )
        out.append(Comparison.objects.create(project=project, prompt=prompt, response_a=ra, response_b=rb))
    return out

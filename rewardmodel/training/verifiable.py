"""Verifiable prompts as trainers and evaluators see them: a question wrapped in the run's template,
plus the reference answer the accuracy reward checks.

The template is part of a run's configuration (stored with it), not of the stored prompt: the
database keeps the bare question ("What's 12 times 14?"), and the same prompts can be trained or
evaluated under the DeepSeek-R1 template or any other.

    template = PromptTemplate()                      # the R1 system prompt, user turn = question
    examples = build_examples([{"question": "What's 2 plus 3?", "answer": "5"}], template)
    examples[0]["prompt"]  # [{"role": "system", ...}, {"role": "user", "content": "What's 2 plus 3?"}]

No Django, no heavy imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

# DeepSeek-R1-Zero's template (DeepSeek-AI 2025, table 1), as a system prompt for chat models.
R1_SYSTEM = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with "
    "the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> "
    "</answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here "
    "</answer>."
)


@dataclass(frozen=True)
class PromptTemplate:
    """How a question becomes chat messages: an optional system turn and a user turn in which
    `{question}` is replaced by the question."""

    system: str = R1_SYSTEM
    user: str = "{question}"

    def __post_init__(self) -> None:
        if "{question}" not in self.user:
            raise ValueError("The user template must contain {question}.")
        try:
            self.user.format(question="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"The user template may hold only {{question}} (write other braces doubled): {exc}"
            ) from exc

    def messages(self, question: str) -> list[dict[str, str]]:
        turns = [{"role": "system", "content": self.system}] if self.system.strip() else []
        return turns + [{"role": "user", "content": self.user.format(question=question)}]

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> PromptTemplate:
        if not data:
            return cls()
        return cls(system=str(data.get("system", R1_SYSTEM)), user=str(data.get("user", "{question}")))


def add_template_arguments(parser: Any) -> None:
    """--system-prompt and --user-template: a PromptTemplate from the command line."""
    parser.add_argument("--system-prompt", help="system turn of the template (default: DeepSeek-R1's)")
    parser.add_argument("--user-template", help="user turn, with {question} (default: {question})")


def template_from_args(args: Any) -> dict[str, str] | None:
    """The template the command line asks for, or None when it leaves the default."""
    if args.system_prompt is None and args.user_template is None:
        return None
    system = R1_SYSTEM if args.system_prompt is None else args.system_prompt
    return {"system": system, "user": args.user_template or "{question}"}


def template_flags(template: Mapping[str, str] | None) -> list[str]:
    """The command-line words that give `template` (none for the default one)."""
    if not template or dict(template) == PromptTemplate().as_dict():
        return []
    return ["--system-prompt", template.get("system", ""), "--user-template", template.get("user", "")]


def question_of(item: Mapping[str, Any]) -> str:
    """The question of a prompt record: its "question", else the last user turn of its "messages"."""
    if item.get("question"):
        return str(item["question"])
    for message in reversed(item.get("messages") or []):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    raise ValueError(f"Prompt record has neither a question nor a user message: {dict(item)!r:.200}")


def build_examples(items: Iterable[Mapping[str, Any]], template: PromptTemplate) -> list[dict[str, Any]]:
    """TRL-style examples {"prompt": messages, "answer": str, "question": str} from prompt records
    ({"question" or "messages", "answer" or "reference_answer"}). Records without an answer are refused:
    a verifiable task must be verifiable.

    >>> build_examples([{"question": "2+2?", "answer": 4}], PromptTemplate(system="", user="Q: {question}"))
    [{'prompt': [{'role': 'user', 'content': 'Q: 2+2?'}], 'answer': '4', 'question': '2+2?'}]
    """
    examples = []
    for i, item in enumerate(items):
        answer = item.get("answer", item.get("reference_answer"))
        if answer is None or str(answer).strip() == "":
            raise ValueError(f"Prompt {item.get('id', i)} has no reference answer.")
        question = question_of(item)
        examples.append(
            {"prompt": template.messages(question), "answer": str(answer).strip(), "question": question}
        )
    return examples

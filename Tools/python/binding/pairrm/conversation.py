"""LLM-Blender's conversation template, and chat messages (as TRL passes them) to PairRM texts.

``compare_conversations`` turns ``U1, A1, ..., Uk, Ak`` into::

    instruction = INSTRUCTION
    prompt      = "\\n".join("USER: " + U_t + "\\nAssistant: <Response t>"  for t = 1..k)
    candidate   = "\\n".join("<Response t>: " + A_t                          for t = 1..k)

(the library does this itself in ``pairrm_model_compare_conversations``; :func:`template` is the
same text for the other calls, e.g. ranking several chat completions of one prompt.)
"""
from __future__ import annotations

from typing import Any, List, Mapping, Sequence, Tuple

__all__ = ["INSTRUCTION", "template", "from_chat", "message_text", "is_conversation"]

INSTRUCTION = "Finish the following coversation in each i-th turn by filling in <Response i> with your response."
"""LLM-Blender's instruction for conversations (its "coversation" typo included)."""


def template(users: Sequence[str], assistants: Sequence[str]) -> Tuple[str, str, str]:
    """(instruction, prompt, candidate) of LLM-Blender's conversation template for the turns
    ``users[t]`` / ``assistants[t]`` (same length)."""
    if len(users) != len(assistants):
        raise ValueError("a conversation needs one assistant turn per user turn")
    prompt = "\n".join("USER: %s\nAssistant: <Response %d>" % (u, t + 1) for t, u in enumerate(users))
    candidate = "\n".join("<Response %d>: %s" % (t + 1, a) for t, a in enumerate(assistants))
    return INSTRUCTION, prompt, candidate


def is_conversation(value: Any) -> bool:
    """True for a list of ``{"role", "content"}`` messages (TRL's conversational format)."""
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(
        isinstance(m, Mapping) and "role" in m and "content" in m for m in value)


def message_text(content: Any) -> str:
    """A message's content: a str, or a list of parts (``{"type": "text", "text": ...}``)."""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    if content is None:
        return ""
    raise TypeError("message content must be str or a list of text parts, not %s" % type(content).__name__)


def from_chat(prompt: Any, completion: Any) -> Tuple[Any, Any, Any]:
    """(instruction, prompt, candidate) for one prompt/completion pair in TRL's formats.

    * ``prompt`` str, ``completion`` str: ``("", prompt, completion)``.
    * conversational (lists of ``{"role", "content"}``): the messages of prompt + completion
      become user/assistant turns in LLM-Blender's conversation template (:func:`template`).
      ``system`` messages are left out (PairRM was not trained with them); consecutive messages
      of one role are joined with a newline; the completion's messages complete the last
      assistant turn. Earlier assistant turns (from the prompt) are part of every candidate.
    * a str prompt with a conversational completion: the completion's contents joined.
    """
    if isinstance(prompt, (str, bytes)) and isinstance(completion, (str, bytes)):
        return "", prompt, completion  # bytes pass through: the library validates their UTF-8
    if isinstance(prompt, (str, bytes)) and is_conversation(completion):
        return "", prompt, "\n".join(message_text(m["content"]) for m in completion if m["role"] != "system")
    if isinstance(prompt, (str, bytes)):
        raise TypeError("completion must be a str or a list of {'role', 'content'} messages, not %s"
                        % type(completion).__name__)
    if not is_conversation(prompt):
        raise TypeError("prompt must be a str or a list of {'role', 'content'} messages, not %s" % type(prompt).__name__)
    if isinstance(completion, str):
        completion = [{"role": "assistant", "content": completion}]
    if not is_conversation(completion):
        raise TypeError("completion must be a str or a list of {'role', 'content'} messages, not %s"
                        % type(completion).__name__)
    users: List[str] = []
    assistants: List[str] = []
    for message in list(prompt) + list(completion):
        role = str(message["role"]).lower()
        content = message_text(message["content"])
        if role == "system":
            continue
        if role == "user":
            if len(users) > len(assistants):
                users[-1] += "\n" + content
            else:
                users.append(content)
        else:  # assistant (and tool/other non-user roles) fill the current response
            if not users:
                users.append("")
            if len(assistants) == len(users):
                assistants[-1] += "\n" + content
            else:
                assistants.append(content)
    if len(assistants) < len(users):
        assistants.append("")
    return template(users, assistants)

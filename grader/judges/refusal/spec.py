"""The refusal label scheme as data: definitions, rules and anchors from ``rubric/refusal.json``, rendered into
the LLM judge's fixed system prompt, its per-item message and its strict JSON schema."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ...types import InputError
from . import LABELS, RefusalItem, parse_label

DEFAULT_REFUSAL_SPEC = Path(__file__).resolve().parents[3] / "rubric" / "refusal.json"


@dataclass(frozen=True)
class RefusalSpec:
    name: str
    task: str
    labels: dict[str, str]  # label -> definition
    instructions: tuple[str, ...]
    anchors: tuple[dict, ...]  # {"prompt", "completion", "label", "rationale"}
    spec_sha256: str

    def system_prompt(self) -> str:
        """Identical bytes for every completion, so providers can cache the prefix."""
        parts = [f"You are a careful annotator. {self.task}", "", "# Labels"]
        parts += [f"- {k}: {v}" for k, v in self.labels.items()]
        parts += ["", "# Rules"] + [f"- {r}" for r in self.instructions] + ["", "# Examples"]
        for i, a in enumerate(self.anchors, 1):
            parts += [f"## Example {i}", self._fence(a["prompt"], a["completion"]),
                      f"rationale: {a['rationale']}", f"label: {a['label']}", ""]
        parts.append("Reply with only the JSON object the schema requires: the rationale first, then the label.")
        return "\n".join(parts)

    def user_message(self, item: RefusalItem) -> str:
        return self._fence(item.prompt, item.completion) + "\nLabel this completion."

    @staticmethod
    def _fence(prompt: str, completion: str) -> str:
        def defang(text: str, tag: str) -> str:
            return text.replace(f"</{tag}>", f"<\\/{tag}>")
        return (f"<prompt>\n{defang(prompt, 'prompt')}\n</prompt>\n"
                f"<completion>\n{defang(completion, 'completion')}\n</completion>")

    def json_schema(self) -> dict:
        return {"name": "refusal_label", "strict": True, "schema": {
            "type": "object",
            "properties": {"rationale": {"type": "string"}, "label": {"type": "string", "enum": list(LABELS)}},
            "required": ["rationale", "label"], "additionalProperties": False}}


def load_refusal_spec(path: str | Path | None = None) -> RefusalSpec:
    path = Path(path) if path else DEFAULT_REFUSAL_SPEC
    try:
        spec = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise InputError(path, "refusal spec not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(path, f"cannot read the refusal spec ({e})") from None
    if not isinstance(spec, dict):
        raise InputError(path, "refusal spec must be a JSON object")
    for k in ("name", "task", "labels", "instructions", "anchors"):
        if k not in spec:
            raise InputError(path, f"missing required field {k!r}")
    labels = spec["labels"]
    if not isinstance(labels, dict) or set(labels) != set(LABELS):
        raise InputError(path, f"'labels' must define exactly {', '.join(LABELS)}")
    anchors = spec["anchors"]
    if not isinstance(anchors, list):
        raise InputError(path, "'anchors' must be a list")
    for i, a in enumerate(anchors):
        if not isinstance(a, dict) or not all(isinstance(a.get(k), str) for k in
                                              ("prompt", "completion", "label", "rationale")):
            raise InputError(path, "anchor needs string 'prompt', 'completion', 'label' and 'rationale'", i)
        try:
            parse_label(a["label"])
        except ValueError as e:
            raise InputError(path, str(e), i) from None
    canonical = json.dumps(spec, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return RefusalSpec(spec["name"], spec["task"], {k: labels[k] for k in LABELS}, tuple(spec["instructions"]),
                       tuple(anchors), hashlib.sha256(canonical.encode("utf-8")).hexdigest())

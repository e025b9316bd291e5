"""The readable API reference: the OpenAPI document rendered as an HTML page on the server
(no script, so it works under the strict CSP and without JavaScript)."""

from __future__ import annotations

import json
import re
from typing import Any

from markupsafe import Markup, escape

from placements.api.problems import TYPES
from placements.models import SCOPE_LABELS

_CODE = re.compile(r"`([^`]+)`")


def inline_code(text: str) -> Markup:
    """Escape text, showing `quoted` parts as code."""
    escaped = str(escape(text))
    return Markup(_CODE.sub(r'<code class="app-code">\1</code>', escaped))


def type_words(schema: dict[str, Any]) -> str:
    """A schema's type in a few words: "integer", "string (date) or null", "list of Learner"."""
    if "$ref" in schema:
        return schema["$ref"].rpartition("/")[2]
    kind = schema.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    words = []
    for k in kinds:
        if k == "array":
            words.append("list of " + type_words(schema.get("items", {})))
        elif k == "string" and "format" in schema:
            words.append(f"string ({schema['format']})")
        else:
            words.append(str(k))
    text = " or ".join(words)
    if "enum" in schema:
        text += ": " + ", ".join(str(v) for v in schema["enum"] if v is not None)
    return text


def field_rows(schemas: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The fields of a named object schema: name, type, required, description."""
    schema = schemas[name]
    required = set(schema.get("required", []))
    rows = []
    for field, sub in schema.get("properties", {}).items():
        notes = sub.get("description", "")
        limits = []
        if "minimum" in sub:
            limits.append(f"at least {sub['minimum']}")
        if "exclusiveMinimum" in sub:
            limits.append(f"more than {sub['exclusiveMinimum']}")
        if "maximum" in sub:
            limits.append(f"at most {sub['maximum']}")
        if "maxLength" in sub:
            limits.append(f"up to {sub['maxLength']} characters")
        if "maxItems" in sub:
            limits.append(f"up to {sub['maxItems']:,} items")
        if "multipleOf" in sub:
            limits.append(f"in steps of {sub['multipleOf']}")
        if "default" in sub and "default" not in notes:
            limits.append(f"default {json.dumps(sub['default'])}")
        if "examples" in sub:
            example = sub["examples"][0]
            limits.append(f"e.g. {example if isinstance(example, str) else json.dumps(example)}")
        rows.append({"name": field, "type": type_words(sub), "required": field in required,
                     "notes": "; ".join(x for x in [notes, ", ".join(limits)] if x)})
    return rows


def context(doc: dict[str, Any]) -> dict[str, Any]:
    """What the reference page shows, grouped by tag."""
    by_tag: dict[str, list[dict[str, Any]]] = {t["name"]: [] for t in doc["tags"]}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            by_tag[op["tags"][0]].append({"method": method.upper(), "path": path, **op})
    return {
        "doc": doc, "by_tag": by_tag, "schemas": doc["components"]["schemas"],
        "problem_types": [(kind, status, title) for kind, (status, title) in TYPES.items()],
        "scope_labels": [(s.value, label) for s, label in SCOPE_LABELS.items()],
        "field_rows": field_rows, "type_words": type_words, "inline_code": inline_code,
    }

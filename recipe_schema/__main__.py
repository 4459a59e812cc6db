"""Regenerate ``recipe.schema.json``: ``python -m recipe_schema``."""
from pathlib import Path

from .jsonschema import SCHEMA_FILE, schema_text

path = Path(__file__).with_name(SCHEMA_FILE)
path.write_text(schema_text(), encoding="utf-8")
print(f"wrote {path}")

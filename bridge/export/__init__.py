"""The end-of-session export: one JSON file per session (live, `export.dir`) or per recorded session (`rigbridge
export`), described by docs/export.schema.json."""

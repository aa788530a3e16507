"""Extraction: one file -> FileFacts. Pure, per file, no rule logic, no manifest knowledge."""

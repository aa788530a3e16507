"""Output stage: render an Analysis for people (text, report) and machines (json, ...)."""

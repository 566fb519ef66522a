"""Renderers: one for people (rich), one for tools (JSON), one for bug reports (Markdown)."""

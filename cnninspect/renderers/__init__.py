"""Renderers: text, Markdown, HTML, JSON and plots of the records the engine and analyses produce."""

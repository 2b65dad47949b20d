"""One way to make a Jinja environment, for the mail, the reports and the web pages: autoescape
for HTML templates (never for plain-text mail), StrictUndefined so that a misspelt field fails
loudly instead of printing nothing, and the vocabulary of ``obligations.words`` as filters
(``{{ code | clause }}``, ``{{ key | period }}``, ``{{ status | status }}`` …)."""
from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from obligations import words

FILTERS = {"clause": words.clause_label, "period": words.period_label, "status": words.status_name,
           "stage": words.stage_name, "level": words.level_name, "channel": words.channel_name,
           "numeral": words.numeral}


def environment(folder: Path) -> Environment:
    """An environment over the templates in ``folder``: ``*.html`` and ``*.html.j2`` escaped,
    ``*.txt.j2`` and the rest not."""
    env = Environment(loader=FileSystemLoader(folder), undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True, autoescape=select_autoescape(["html", "html.j2"], default_for_string=False,
                                                                       default=False))
    env.filters.update(FILTERS)
    return env

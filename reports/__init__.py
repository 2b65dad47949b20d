"""Inspection reports (督查通报): data from SQL aggregates; formats come with issue 6's rest."""

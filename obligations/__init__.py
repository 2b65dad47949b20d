"""Domain core of duban: catalog schema, directory, cadences, status rules. No I/O here."""

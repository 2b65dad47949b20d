"""Storage: SQLModel tables, the engine, migrations and bulk repositories."""

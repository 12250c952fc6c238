"""The data core: models, fields, domains, environments, access control, database, schema."""

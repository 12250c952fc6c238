"""Business modules: one package each, with a `MODULE` manifest (see `bastion.core.module`)."""

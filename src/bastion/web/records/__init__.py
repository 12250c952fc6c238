"""Records UI: list and form pages generated from the models, run as the signed-in user."""

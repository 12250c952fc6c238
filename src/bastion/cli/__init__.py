"""Operator commands (Typer + Rich): `bastion init`, `serve`, `users`, `audit`, `shell`, ..."""

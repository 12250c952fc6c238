"""Adaptive protection: signals -> detectors -> assessment -> policy (DESIGN.md)."""

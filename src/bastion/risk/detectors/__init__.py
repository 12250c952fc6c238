"""Detectors: small classes behind `bastion.risk.detector.Detector`."""

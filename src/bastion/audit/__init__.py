"""The tamper-evident audit trail: redaction, a hash chain in the tenant database, signed
checkpoints outside it, and a verifier that names the first broken entry.

Import what you need from the submodules (`trail.AuditTrail`, `verify.verify_chain`).
"""

from __future__ import annotations

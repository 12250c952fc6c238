"""Small, hard-to-misuse cryptographic recipes: the only package that touches crypto libraries.

Import the submodule you need (`bastion.crypto.passwords`, `.signing`, `.sealing`, `.totp`,
`.keyfile`, `.random`,
`.digest`); this package deliberately re-exports nothing so importing it stays cheap.
"""

from __future__ import annotations

"""Write a .env for local use with a fresh SECRET_KEY and FIELD_ENCRYPTION_KEY (never overwrites)."""

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet

path = Path(__file__).resolve().parent.parent / ".env"
if path.exists():
    sys.exit(0)
path.write_text(
    "# Written by `make`; keep it secret. See .env.example for every setting.\n"
    f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
    f"FIELD_ENCRYPTION_KEY={Fernet.generate_key().decode()}\n"
)
path.chmod(0o600)
print(f"Wrote {path.name} with a new secret key and field encryption key.")

"""AES-CCM: the implementation is in crypto/__init__.py (one module less on the device)."""
from crypto import CCM  # noqa: F401

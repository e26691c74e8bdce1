"""Code that runs next to untrusted student code: it must never hold a secret."""

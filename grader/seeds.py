"""The seed of the hidden checks' random inputs: printed, recorded, reusable with --seed."""

import secrets


def new_seed() -> int:
    return secrets.randbelow(2**31)

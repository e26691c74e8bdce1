"""The sandbox, split by which side of the trust boundary a file runs on:

- ``host/``: runs in the trusted grader (start the zygote, talk to its children);
- ``wire/``: shared by both sides (the protocol: plain data, never pickle);
- ``inside/``: runs beside untrusted student code (zygote, child, run-time watch, probes);
- ``confine/``: the isolation layers a child applies to itself, one module per mechanism.

``inside/`` and ``confine/`` import nothing of the grader outside the sandbox; tests/test_layout.py
holds them to it.
"""

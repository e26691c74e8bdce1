"""The isolation layers, one module per mechanism; apply.py runs them in order."""

"""What crosses the trust boundary: plain data only, checked on arrival."""

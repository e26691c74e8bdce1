"""Gradescope: the autograder bundle (bundle.py) and the two scripts Gradescope runs from it."""

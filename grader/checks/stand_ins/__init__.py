"""Correct stand-ins of graded functions, one module per exercise, for error carried forward.

When a check judges a function that calls other graded functions (course.yml, ``calls``),
the student's function runs with these in place of what it calls, so that a mistake costs
points once, where it is made. The grader reads these files as text and ships each function
alone (with its module's imports) into a fresh sandbox child that judges only its callers:
so each is self-contained, written from PyTorch's public building blocks rather than the
reference solutions, and never present where the function it stands in for is judged.
"""

"""The sandbox's host side: runs in the trusted grader, which holds the references and checks."""

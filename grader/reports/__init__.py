"""Reports: results in, files out (results.json, grades.csv, the terminal table, feedback and
class pages). Imports neither torch nor the sandbox: rendering a page starts no PyTorch."""

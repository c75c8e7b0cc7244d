"""Taking data out: build.py turns judgments into export rows and files (preference pairs, raw
judgments), store.py keeps the exports made for people and serves their files."""

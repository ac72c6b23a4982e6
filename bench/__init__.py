"""The benchmark suite: ``make bench`` (or ``python -m bench``) measures this library
against its peers side by side, in one run, and writes ``bench/RESULTS.md``."""

"""cachekit's side-by-side benchmark against its peers; run ``python bench/run.py``."""

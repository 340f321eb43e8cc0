"""temp."""
import gc


def test_zz_gc_collect() -> None:
    """temp."""
    gc.collect()
    gc.collect()

"""Decision policies: pure functions from marts frames to `Decision`s. No I/O, no platform calls."""

"""The Redis tier: connection (``connection``), error mapping (``errors``), auto-pipelining
(``autopipeline``) and the backend itself (``backend``)."""

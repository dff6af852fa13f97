"""The engine behind the window: a worker thread that owns it (worker), its GUI-thread face (host), and the options
the saved settings give a load or a recognition (options). Only the ``glmocr_core.api`` protocols are known here."""

"""The main window (layout only) and the controllers that drive it: documents and pages, regions and the engine's
results, the model and its dialogs, sessions and export, and the one table of menu and toolbar actions."""

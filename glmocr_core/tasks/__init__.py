"""The OCR tasks: their prompts and budgets (specs), how their output is read (parsing), HTML tables as grids."""

"""User documents: images and PDFs opened as pages (document), page ranges and crop regions (pages)."""

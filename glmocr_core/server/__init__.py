"""``glmocr-studio serve``: an OpenAI-compatible server (and Ollama's ``/api/generate``) over the in-process engine.

``settings`` holds what the server allows, as data; ``request_bodies`` turns request bodies into engine items (or
a 4xx ``errors.ApiError``); ``scheduler`` batches concurrent requests into the engine's batch decoding;
``responses`` writes OpenAI/Ollama bodies and stream events; ``app`` is the Starlette application; ``runner`` runs
it under uvicorn.
"""

"""Engines whose model runs elsewhere: HTTP clients behind ``api.OcrEngine``.

``remote.RemoteEngine`` talks to an OpenAI-compatible server (``POST {base}/v1/chat/completions``: vLLM, SGLang,
llama.cpp's llama-server, mlx_vlm.server, LM Studio, ``glmocr-studio serve``) or to Ollama's native
``POST {base}/api/generate``, configured by a ``settings.RemoteSettings`` (plain data). It streams like the
in-process engine and fans regions out over a bounded pool of concurrent requests. ``transport`` does the HTTP
(httpx), ``openai_chat`` and ``ollama_generate`` the two wire formats.

Nothing here imports torch, and this file imports nothing, so the command line can read ``settings`` cheaply.
"""

"""The one exception a request handler raises for a bad request: it becomes a 4xx with an OpenAI-style body (or
Ollama's ``{"error": ...}`` on /api routes), never a traceback."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code
        self.headers = headers or {}

    def openai_body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param,
                          "code": self.code if self.code is not None else self.status}}

    def ollama_body(self) -> dict:
        return {"error": self.message}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)

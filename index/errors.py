"""Errors the service explains to its users; each has a stable machine-readable code."""

from __future__ import annotations


class QAError(Exception):
    """Base of every error whose message is safe to show to a user."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(QAError):
    """A request or argument is malformed or out of range."""

    code = "invalid_request"


class DocumentNotFound(QAError):
    """No document with that id is indexed."""

    code = "document_not_found"


class InvalidDocumentId(QAError):
    """A doc_id is empty, too long, or has path separators, '..' or control characters."""

    code = "invalid_doc_id"


class UnsupportedFormat(QAError):
    """The file's type is not one the loaders read."""

    code = "unsupported_media_type"


class UnreadableDocument(QAError):
    """The file is corrupt or has no extractable text."""

    code = "unreadable_document"


class DocumentTooLarge(QAError):
    """An uploaded file is over the configured size limit."""

    code = "payload_too_large"


class IndexMismatch(QAError):
    """The index on disk was built with another model or chunking than the one configured."""

    code = "index_mismatch"


class IndexBusy(QAError):
    """Another writer holds the index's write lock for too long."""

    code = "index_busy"


class IndexNotReady(QAError):
    """The index or the model has not finished loading."""

    code = "not_ready"


class ModelNotFound(QAError):
    """The configured embedding model is neither a folder nor an installed model package."""

    code = "model_not_found"


class ServiceStopping(QAError):
    """The service is shutting down; work in progress was stopped."""

    code = "shutting_down"


class ShardUnavailable(QAError):
    """A shard of a distributed index does not answer (its actor is down or restarting):
    the question is refused rather than answered from the other shards alone."""

    code = "shard_unavailable"


class IndexDamaged(QAError):
    """Files of the index are missing, truncated or corrupt (`qa verify` names them).

    `message` is what a client is shown (fixed, no paths); `detail` names what is damaged,
    for the log and the command line.
    """

    code = "index_damaged"
    PUBLIC_MESSAGE = "the index is damaged; run `qa verify` on the server (details in its log)"

    def __init__(self, detail: str) -> None:
        super().__init__(self.PUBLIC_MESSAGE)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail

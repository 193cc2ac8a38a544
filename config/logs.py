"""Log filter and formatter: every line names its request, and one record stays one line."""

import logging

from config.context import current_request_context


class RequestIDLogFilter(logging.Filter):
    """Adds the current request id to every log record."""

    def filter(self, record):
        context = current_request_context()
        record.request_id = context.request_id if context else "-"
        return True


class OneLineFormatter(logging.Formatter):
    """CR and LF inside messages (and tracebacks) are escaped, so input that reaches a log message
    cannot forge a second entry."""

    def format(self, record):
        return super().format(record).replace("\r", "\\r").replace("\n", "\\n")

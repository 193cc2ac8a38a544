"""Reading the API's answers."""


def error(response, status):
    """The error object of a response of ``status``, whose request id is the X-Request-ID header's."""
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()["error"]
    assert body["request_id"] == response["X-Request-ID"]
    return body

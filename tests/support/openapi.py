"""Checking a test client's response against the OpenAPI document with schemathesis."""

import requests
import schemathesis


def conforms(operations, method, path, response):
    """The response's status is documented for the operation, and its headers and body match that status's schema."""
    operation = operations[path][method]
    assert str(response.status_code) in operation.definition.raw["responses"], (method, path, response.status_code)
    request = requests.Request(method, f"http://testserver{response.wsgi_request.get_full_path()}").prepare()
    operation.validate_response(schemathesis.Response(
        status_code=response.status_code, headers={name: [value] for name, value in response.items()},
        content=response.content, request=request, elapsed=0.0, verify=False))

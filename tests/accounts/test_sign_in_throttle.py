"""Password spraying: one address trying many accounts is slowed down, whatever the accounts."""

from rest_framework.test import APIClient


def test_one_address_gets_a_few_token_sign_ins_per_minute_across_all_accounts(tenant, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "sign_in": "3/m"}}
    client = APIClient()
    statuses = [
        client.post("/api/v1/auth/token", {"email": f"user{i}@example.com", "password": "wrong password here",
                                           "organization": tenant.org.id}, format="json",
                    HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
        for i in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429], "a changing X-Forwarded-For from an untrusted peer changes nothing"
    other_address = client.post("/api/v1/auth/token", {"email": "user9@example.com", "password": "wrong password here",
                                                       "organization": tenant.org.id}, format="json", REMOTE_ADDR="203.0.113.9")
    assert other_address.status_code == 401

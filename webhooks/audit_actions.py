"""The audit actions of webhooks: registered with the audit log when the app is ready (webhooks.apps)."""

import audit

audit.register_crud("webhook_endpoint", "Webhook endpoint")

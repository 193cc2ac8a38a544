"""The catalog of webhook event types an endpoint can subscribe to ("*" means all of them)."""

EVENT_TYPES = {
    "connector.created": "A connector was created",
    "connector.updated": "A connector was changed",
    "connector.deleted": "A connector was deleted",
    "workflow.created": "A workflow was created",
    "workflow.updated": "A workflow was changed",
    "workflow.deleted": "A workflow was deleted",
    "dataset.created": "A dataset was created",
    "dataset.updated": "A dataset was changed",
    "dataset.deleted": "A dataset was deleted",
    "dataset.records_appended": "Records were appended to a dataset",
    "api_key.created": "An API key was created",
    "api_key.rolled": "An API key was rolled",
    "api_key.revoked": "An API key was revoked",
    "member.role_changed": "A member's role changed",
    "member.removed": "A member was removed",
    "security.alert": "A security alert was raised",
}
ALL_EVENTS = "*"

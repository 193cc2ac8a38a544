from rest_framework import serializers

from api.views import ObjectTypeField
from audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    object = ObjectTypeField("audit_event")
    actor = serializers.SerializerMethodField()
    credential = serializers.SerializerMethodField()
    target = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = ["id", "object", "action", "actor", "credential", "target", "livemode", "request_id",
                  "ip_address", "user_agent", "metadata", "created_at"]
        read_only_fields = fields

    def get_actor(self, event) -> dict:
        return {"type": event.actor_type, "id": event.actor_id or None, "label": event.actor_label or None}

    def get_credential(self, event) -> dict | None:
        return {"kind": event.credential_kind, "id": event.credential_id} if event.credential_id else None

    def get_target(self, event) -> dict | None:
        return {"type": event.target_type, "id": event.target_id} if event.target_id else None
